"""The validators the CLI and the beat share: plain functions, messages that name the row."""

from __future__ import annotations

import pytest

from service.db.snapshot import ExchangeSnapshot, check_snapshot
from service.db.validation import (
    parse_json_object,
    validate_ccxt_id,
    validate_mode,
    validate_name,
    validate_params,
    validate_poll_interval,
    validate_symbol,
)
from service.errors import ValidationError


@pytest.mark.parametrize(
    "symbol", ["BTC/USDT", "BTC/USDT:USDT", "1000SHIB/USDT", "BTC/USD:BTC-240628", "ETH/BTC"]
)
def test_unified_symbols_pass(symbol: str) -> None:
    assert validate_symbol(symbol, exchange="binance") == symbol


@pytest.mark.parametrize(
    ("symbol", "guess"),
    [
        ("btc/usdt", "BTC/USDT"),
        ("BTC-USDT", "BTC/USDT"),
        ("BTCUSDT", None),
        ("BTC/", None),
        ("/USDT", None),
        ("BTC/USDT:", None),
        ("BTC//USDT", None),
        (" BTC/USDT", "BTC/USDT"),
        ("A" * 70 + "/USDT", None),
    ],
)
def test_malformed_symbols_are_rejected_with_the_row_and_a_guess(
    symbol: str, guess: str | None
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_symbol(symbol, exchange="binance")
    message = str(caught.value)
    assert message.startswith(f"exchange 'binance' symbol {symbol!r}: not a unified symbol")
    assert (f"did you mean {guess!r}" in message) == (guess is not None)


def test_a_symbol_without_an_exchange_names_only_the_symbol() -> None:
    with pytest.raises(ValidationError, match=r"^symbol 'x': not a unified symbol"):
        validate_symbol("x")


def test_a_known_ccxt_id_passes_and_a_typo_lists_close_matches() -> None:
    assert validate_ccxt_id("binance") == "binance"
    with pytest.raises(ValidationError, match=r"^exchange 'b': unknown ccxt exchange id 'binanse'"):
        validate_ccxt_id("binanse", exchange="b")
    with pytest.raises(ValidationError, match="did you mean binance"):
        validate_ccxt_id("Binance")


def test_a_hopeless_ccxt_id_points_at_the_list() -> None:
    with pytest.raises(ValidationError, match=r"see ccxt\.exchanges"):
        validate_ccxt_id("zzzzzzzz")


def test_modes_are_auto_ws_or_poll_and_ws_needs_ccxt_pro() -> None:
    assert validate_mode("poll", ccxt_id="bitbank") == "poll"
    assert validate_mode("ws", ccxt_id="binance") == "ws"
    with pytest.raises(ValidationError, match=r"^exchange 'x': mode 'fast' is not one of auto"):
        validate_mode("fast", exchange="x")
    with pytest.raises(ValidationError, match=r"ccxt\.pro lacks for 'bitbank'"):
        validate_mode("ws", exchange="x", ccxt_id="bitbank")


@pytest.mark.parametrize("name", ["binance", "binance-eu", "okx_2", "0x"])
def test_lowercase_names_are_valid_job_keys(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "Binance", "bin#1", "-x", "a b", "x" * 65])
def test_names_that_cannot_be_job_keys_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError, match="is not valid: use 1-64 lowercase"):
        validate_name(name)


@pytest.mark.parametrize("seconds", [0, -1, float("inf"), float("nan"), "soon"])
def test_poll_intervals_must_be_positive_and_finite(seconds: object) -> None:
    with pytest.raises(ValidationError, match="positive number of seconds"):
        validate_poll_interval(seconds)  # type: ignore[arg-type]


def test_json_options_must_be_objects() -> None:
    assert parse_json_object('{"a": 1}', option="--params") == {"a": 1}
    with pytest.raises(ValidationError, match=r"--params is not valid JSON \(.* at column 2\)"):
        parse_json_object("{bad", option="--params")
    with pytest.raises(ValidationError, match="--params must be a JSON object"):
        parse_json_object("[1]", option="--params")


@pytest.mark.parametrize(
    ("params", "path"),
    [
        ({"apiKey": "k"}, "apiKey"),
        ({"SECRET": "s"}, "SECRET"),
        ({"options": {"private_key": "p"}}, "options.private_key"),
        ({"list": [{"uid": 1}]}, "list[0].uid"),
        ({"password": ""}, "password"),
    ],
)
def test_credentials_in_params_are_refused_wherever_they_hide(
    params: dict[str, object], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_params(params, field="--params", exchange="kraken")
    assert f"holds a credential ({path})" in str(caught.value)
    assert "{NAME}_API_KEY" in str(caught.value)


def test_params_without_credentials_pass_untouched() -> None:
    params = {"urls": {"api": {"public": "http://127.0.0.1:9000/api/v3"}}, "timeout": 5000}
    assert validate_params(params, field="--params") is params


def test_check_snapshot_drops_bad_symbols_and_reports_each() -> None:
    snapshot = ExchangeSnapshot("binance", "binance", symbols=("BTC/USDT", "eth-usdt", "X"))
    check = check_snapshot(snapshot)
    assert check.snapshot is not None
    assert check.snapshot.symbols == ("BTC/USDT",)
    assert [p.split(":")[0] for p in check.problems] == [
        "exchange 'binance' symbol 'eth-usdt'",
        "exchange 'binance' symbol 'X'",
    ]


def test_check_snapshot_rejects_a_bad_exchange_row_whole() -> None:
    check = check_snapshot(ExchangeSnapshot("kraken", "krakn", symbols=("BTC/USD",)))
    assert check.snapshot is None
    assert check.problems == (
        "exchange 'kraken': unknown ccxt exchange id 'krakn'; did you mean kraken?",
    )
