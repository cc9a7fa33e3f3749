"""symbols add/set --trades --candles --since through ``service.cli.main``, and load_wanted."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

from bench.procs import BIN
from service.history.records import Stream, StreamKey, Timeframe, Wanted
from service.history.wanted import DEFAULT_HISTORY_MS, load_wanted
from tests.test_cli_db import Cli, cli, migrated  # noqa: F401  (fixtures)
from tests.test_db_bad_rows import run_sql
from workers.clock import now_ms

NOV_1 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)


def listed(cli: Cli, url: str) -> dict[str, dict[str, object]]:  # noqa: F811
    code, out, _ = cli(url, "symbols", "list", "--json")
    assert code == 0
    return {row["symbol"]: row for row in json.loads(out)}


def test_add_with_history_flags_stores_them_and_says_a_naive_date_is_utc(
    cli: Cli,  # noqa: F811
    migrated: str,  # noqa: F811
) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    code, out, err = cli(
        migrated, "symbols", "add", "binance", "BTC/USDT", "--trades", "--candles",
        "--since", "2026-11-01T00:00:00",
    )  # fmt: skip
    assert code == 0
    assert "(trades on, candles 1m on, since 2026-11-01T00:00:00Z)" in out
    assert "--since 2026-11-01T00:00:00 has no timezone: read as UTC (2026-11-01T00:00:00Z)" in err
    cli(migrated, "symbols", "add", "binance", "ETH/USDT")
    rows = listed(cli, migrated)
    assert (rows["BTC/USDT"]["trades"], rows["BTC/USDT"]["candles"]) == (True, True)
    assert rows["BTC/USDT"]["history_since"] == NOV_1
    assert (rows["ETH/USDT"]["trades"], rows["ETH/USDT"]["candles"]) == (False, False)


def test_set_turns_streams_on_and_off_and_moves_since(
    cli: Cli,  # noqa: F811
    migrated: str,  # noqa: F811
) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    cli(migrated, "symbols", "add", "binance", "BTC/USDT", "ETH/USDT")
    code, out, _ = cli(migrated, "symbols", "set", "binance", "BTC/USDT", "ETH/USDT", "--trades")
    assert (code, out) == (0, "set trades on on 2 symbol(s) of binance\n")
    cli(migrated, "symbols", "set", "binance", "BTC/USDT", "--no-trades", "--candles=1m")
    code, out, _ = cli(
        migrated, "symbols", "set", "binance", "ETH/USDT", "--since", "2026-11-01T01:00:00+01:00"
    )
    rows = listed(cli, migrated)
    assert (rows["BTC/USDT"]["trades"], rows["BTC/USDT"]["candles"]) == (False, True)
    assert rows["ETH/USDT"]["history_since"] == NOV_1
    code, out, _ = cli(migrated, "symbols", "set", "binance", "ETH/USDT", "--trades")
    assert out == "set trades on on 0 symbol(s) of binance (1 already so)\n"
    cli(migrated, "symbols", "set", "binance", "BTC/USDT", "--no-candles")
    assert listed(cli, migrated)["BTC/USDT"]["candles"] is False


def test_bad_history_values_are_errors_naming_the_option_and_write_nothing(
    cli: Cli,  # noqa: F811
    migrated: str,  # noqa: F811
) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    future = "2099-01-01T00:00:00Z"
    code, _, err = cli(migrated, "symbols", "add", "binance", "BTC/USDT", "--since", future)
    assert code == 2 and "error: --since 2099-01-01T00:00:00Z is in the future" in err
    code, _, err = cli(migrated, "symbols", "add", "binance", "BTC/USDT", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday' is not a time: use ISO 8601" in err
    assert listed(cli, migrated) == {}
    code, _, err = cli(migrated, "symbols", "set", "binance", "BTC/USDT")
    assert code == 2 and "nothing to set" in err


def test_an_unknown_timeframe_is_refused_by_the_real_cli(migrated: str) -> None:  # noqa: F811
    env = {"DATABASE_URL": migrated, "PATH": str(BIN)}
    for argv, message in (
        (["--candles", "5m"], "argument --candles: unknown timeframe '5m'"),
        (["--candles", "BTC/USDT"], "expected a timeframe such as 1m, not 'BTC/USDT'"),
    ):
        done = subprocess.run(
            [str(BIN / "ticker-service"), "symbols", "add", "binance", *argv],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 2 and message in done.stderr, done.stderr


def test_load_wanted_returns_only_enabled_rows_that_collect(
    cli: Cli,  # noqa: F811
    migrated: str,  # noqa: F811
) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    cli(migrated, "exchanges", "add", "off", "--ccxt-id", "okx", "--disabled")
    add = ("symbols", "add", "binance")
    cli(migrated, *add, "BTC/USDT", "--trades", "--candles", "--since", "2026-11-01T00:00:00Z")
    cli(migrated, *add, "ETH/USDT", "--candles")  # no since: the default
    cli(migrated, *add, "SOL/USDT")  # tickers only
    cli(migrated, *add, "XRP/USDT", "--trades")
    cli(migrated, "symbols", "disable", "binance", "XRP/USDT")
    cli(migrated, "symbols", "add", "off", "BTC/USDT", "--trades")  # its exchange is disabled
    now = now_ms()
    assert load_wanted(migrated, now) == [
        Wanted(StreamKey("binance", "BTC/USDT", Stream.CANDLES, Timeframe.M1), NOV_1),
        Wanted(StreamKey("binance", "BTC/USDT", Stream.TRADES), NOV_1),
        Wanted(
            StreamKey("binance", "ETH/USDT", Stream.CANDLES, Timeframe.M1), now - DEFAULT_HISTORY_MS
        ),
    ]


def test_load_wanted_skips_a_row_with_a_bad_history_cell(
    cli: Cli,  # noqa: F811
    sqlite_url: str,
) -> None:
    cli(sqlite_url, "db", "upgrade")
    cli(sqlite_url, "exchanges", "add", "binance", "--ccxt-id", "binance")
    cli(sqlite_url, "symbols", "add", "binance", "BTC/USDT", "ETH/USDT", "--trades")
    run_sql(sqlite_url, "UPDATE symbols SET history_since = 'soon' WHERE symbol = 'ETH/USDT'")
    keys = [wanted.key for wanted in load_wanted(sqlite_url, now_ms())]
    assert keys == [StreamKey("binance", "BTC/USDT", Stream.TRADES)]


def test_since_alone_is_stored_with_a_note_that_it_waits_for_a_stream(
    cli: Cli,  # noqa: F811
    migrated: str,  # noqa: F811
) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    code, _, err = cli(migrated, "symbols", "add", "binance", "BTC/USDT", "--since", str(NOV_1))
    assert code == 0 and "note: --since applies once --trades or --candles is set" in err
    assert listed(cli, migrated)["BTC/USDT"]["history_since"] == NOV_1
