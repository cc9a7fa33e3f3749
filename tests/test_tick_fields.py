"""The stored tick is ccxt's whole unified ticker: every field, named as the README says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ccxt
import pytest
import redis
from ccxt.base.types import Ticker

from service.cli import main
from service.cli.price import TABLE
from service.keys import Keys
from service.store import TickReader
from workers.clock import now_ms
from workers.ticks import CCXT_FIELDS, FROM_CCXT, TICK_FIELDS, snake_case, to_tick

README = (Path(__file__).parent.parent / "README.md").read_text()
NOT_STORED = {"symbol", "datetime", "info"}


def test_every_field_of_ccxts_unified_ticker_is_stored() -> None:
    # Fails when a ccxt upgrade adds or drops a unified field: update CCXT_FIELDS and the README.
    assert set(CCXT_FIELDS) == set(Ticker.__annotations__) - NOT_STORED
    assert len(CCXT_FIELDS) == len(set(CCXT_FIELDS))


def test_every_field_ccxts_safe_ticker_fills_is_stored() -> None:
    filled = ccxt.binance().safe_ticker({"symbol": "BTC/USDT", "timestamp": 1, "info": {}})
    assert set(filled) - NOT_STORED == set(CCXT_FIELDS)


@pytest.mark.parametrize(
    ("ccxt_name", "stored"),
    [
        ("bid", "bid"),
        ("bidVolume", "bid_volume"),
        ("previousClose", "previous_close"),
        ("baseVolume", "base_volume"),
        ("quoteVolume", "quote_volume"),
        ("indexPrice", "index_price"),
    ],
)
def test_ccxt_names_are_stored_in_snake_case(ccxt_name: str, stored: str) -> None:
    assert snake_case(ccxt_name) == stored and FROM_CCXT[stored] == ccxt_name


def test_the_fields_stored_before_keep_their_names() -> None:
    before = {"exchange", "symbol", "bid", "ask", "last", "base_volume", "quote_volume"}
    assert before | {"percentage", "timestamp", "received_at"} <= set(TICK_FIELDS)


def test_a_tick_holds_every_field_and_none_for_what_the_exchange_does_not_give() -> None:
    full = {name: float(i) for i, name in enumerate(CCXT_FIELDS)} | {"info": {"raw": 1}}
    mini = {"symbol": "BTC/USDT", "timestamp": 5, "last": 2.0, "bid": None, "info": {}}
    tick = to_tick("ex", "BTC/USDT", full, received_at=9)
    assert list(tick) == list(TICK_FIELDS)
    assert [tick[field] for field in FROM_CCXT] == [full[name] for name in CCXT_FIELDS]
    partial = to_tick("ex", "BTC/USDT", mini, received_at=9)
    assert list(partial) == list(TICK_FIELDS)
    assert {f: v for f, v in partial.items() if v is not None} == {
        "exchange": "ex",
        "symbol": "BTC/USDT",
        "timestamp": 5,
        "last": 2.0,
        "received_at": 9,
    }


def readme_tick_fields() -> list[str]:
    # The list runs from "A tick:" to `received_at`, the last stored field.
    paragraph = re.search(r"^A tick: (.+?`received_at`)", README, re.S | re.M)
    assert paragraph is not None, "the README's tick paragraph ('A tick: ...') is gone"
    return re.findall(r"`([a-z_]+)`", paragraph.group(1))


def test_the_readme_lists_every_stored_field_in_order() -> None:
    assert readme_tick_fields() == list(TICK_FIELDS)


def test_the_price_table_shows_every_field() -> None:
    shown = [field for line in TABLE for field in line]
    assert sorted(shown) == sorted(set(TICK_FIELDS) - {"exchange", "symbol"})


def stored_tick(**values: Any) -> dict[str, Any]:
    full = {name: 1.0 + i for i, name in enumerate(CCXT_FIELDS)} | {"timestamp": now_ms() - 5}
    return to_tick("alpha", "BTC/USDT", full | values, received_at=now_ms())


@pytest.fixture
def cli_keys(keys: Keys, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Keys:
    """The test's keys, which the CLI's Redis settings now point at."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", keys.prefix)
    return keys


def test_the_price_command_prints_every_field_as_a_table_and_as_json(
    redis_client: redis.Redis, cli_keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = cli_keys
    tick = stored_tick(bid=None, percentage=-0.33)
    redis_client.hset(keys.board("alpha"), "BTC/USDT", json.dumps(tick))
    redis_client.sadd(keys.exchanges(), "alpha")
    assert main(["price", "BTC/USDT", "--exchange", "alpha"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("alpha BTC/USDT\n")
    for field in ("ask", "ask_volume", "vwap", "open", "high", "low", "close", "average"):
        assert f"{field.replace('_', ' ')} {tick[field]}" in table
    assert "bid -" in table and "percentage -0.33%" in table
    assert main(["price", "BTC/USDT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == tick | {"stale": False}


def test_a_tick_written_before_the_whole_ticker_reads_back_with_every_field(
    redis_client: redis.Redis, keys: Keys
) -> None:
    old = {"exchange": "alpha", "symbol": "BTC/USDT", "bid": 1.0, "ask": 2.0, "last": 1.5}
    old |= {"base_volume": 3.0, "quote_volume": 4.5, "percentage": 0.1, "timestamp": 7}
    old |= {"received_at": now_ms()}
    redis_client.hset(keys.board("alpha"), "BTC/USDT", json.dumps(old))
    tick = TickReader(redis_client, keys).get("alpha", "BTC/USDT")
    assert tick is not None and list(tick) == [*TICK_FIELDS, "stale"]
    assert {field: tick[field] for field in old} == old
    assert all(tick[field] is None for field in set(TICK_FIELDS) - set(old))
