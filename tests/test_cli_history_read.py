"""ticker-service candles / trades: three formats, read back exactly, streamed."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from service.cli import main
from service.cli import trades as trades_command
from service.cli.history_output import write_rows
from service.db import migrate
from service.history.records import MINUTE_MS, Candle, Range, Stream, StreamKey, Timeframe, Trade
from service.history.store import HistoryStore
from tests.test_cli_db import Cli, cli  # noqa: F401  (fixture)

T0 = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
TRADES = StreamKey("binance", "BTC/USDT", Stream.TRADES)
CANDLES = StreamKey("binance", "BTC/USDT", Stream.CANDLES, Timeframe.M1)


def some_trades(count: int) -> list[Trade]:
    return [
        Trade(
            str(1000 + i), T0 + i * 1_500, 64_000.1 + i / 7, 0.012345, ("buy", "sell", None)[i % 3]
        )
        for i in range(count)
    ]


def some_candles(count: int) -> list[Candle]:
    return [
        Candle(T0 + i * MINUTE_MS, 1.1, 2.2, 0.3, 1.7 + i / 3, 12.5, i < count - 1)
        for i in range(count)
    ]


@pytest.fixture
def filled(database_url: str) -> Iterator[str]:
    migrate.upgrade(database_url)
    store = HistoryStore(database_url)
    store.write_page(TRADES, some_trades(10), Range(T0, T0 + MINUTE_MS))
    store.write_page(CANDLES, some_candles(4), Range(T0, T0 + 3 * MINUTE_MS))
    store.close()
    yield database_url


def test_trades_csv_json_and_table_give_back_exactly_what_was_stored(
    cli: Cli,  # noqa: F811
    filled: str,
) -> None:
    code, out, _ = cli(filled, "trades", "binance", "BTC/USDT", "--format", "csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["id", "timestamp", "price", "amount", "side"]
    assert rows[1:] == [
        [t.id, str(t.timestamp), repr(t.price), repr(t.amount), t.side or ""]
        for t in some_trades(10)
    ]
    code, out, _ = cli(filled, "trades", "binance", "BTC/USDT", "--format", "json")
    assert json.loads(out) == [
        {"id": t.id, "timestamp": t.timestamp, "price": t.price, "amount": t.amount, "side": t.side}
        for t in some_trades(10)
    ]
    code, out, _ = cli(filled, "trades", "binance", "BTC/USDT", "--from", "2026-11-01T00:00:03Z")
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "ID"]
    assert lines[1].split()[:2] == ["2026-11-01T00:00:03Z", "1002"]
    assert lines[2].split()[:2] == ["2026-11-01T00:00:04.500Z", "1003"]
    assert len(lines) == 1 + 8


def test_candles_csv_json_and_table_with_a_window(cli: Cli, filled: str) -> None:  # noqa: F811
    argv = ("candles", "binance", "BTC/USDT")
    code, out, _ = cli(filled, *argv, "--format", "csv", "--to", str(T0 + 3 * MINUTE_MS))
    assert out.splitlines()[0] == "open_time,open,high,low,close,volume,closed"
    expected = [f"{c.open_time},1.1,2.2,0.3,{c.close!r},12.5,true" for c in some_candles(4)[:3]]
    assert out.splitlines()[1:] == expected
    code, out, _ = cli(filled, *argv, "--format", "json")
    assert [c["closed"] for c in json.loads(out)] == [True, True, True, False]
    assert json.loads(out)[0] == {
        "open_time": T0, "open": 1.1, "high": 2.2, "low": 0.3, "close": 1.7, "volume": 12.5,
        "closed": True,
    }  # fmt: skip
    code, out, _ = cli(filled, *argv)
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z", "2026-11-01T00:02:00Z",
        "2026-11-01T00:03:00Z",
    ]  # fmt: skip


def test_an_empty_window_says_so_and_bad_times_name_the_option(
    cli: Cli,  # noqa: F811
    filled: str,
) -> None:
    code, out, err = cli(filled, "candles", "binance", "ETH/USDT", "--format", "json")
    assert (code, out) == (0, "[]\n") and "nothing stored for binance ETH/USDT candles:1m" in err
    code, _, err = cli(filled, "trades", "binance", "BTC/USDT", "--from", "noon")
    assert code == 2 and "--from 'noon' is not a time" in err
    code, _, err = cli(filled, "trades", "binance", "BTC/USDT", "--from", "2026-11-02T00:00:00Z",
                       "--to", "2026-11-01T00:00:00Z")  # fmt: skip
    assert code == 2 and "--to 2026-11-01T00:00:00Z is before --from 2026-11-02T00:00:00Z" in err


@pytest.mark.parametrize("fmt", ["csv", "json", "table"])
def test_output_starts_before_the_rows_are_all_read(fmt: str) -> None:
    consumed = 0
    seen_at_first_row: list[int] = []

    def rows() -> Iterator[Trade]:
        nonlocal consumed
        for trade in some_trades(1000):
            consumed += 1
            yield trade

    class Sink(io.StringIO):
        def write(self, text: str) -> int:
            if "1000" in text and not seen_at_first_row:  # the first trade's id
                seen_at_first_row.append(consumed)
            return super().write(text)

    assert write_rows(rows(), trades_command.LAYOUT, fmt, Sink()) == 1000
    assert seen_at_first_row == [1]


def test_a_large_read_streams_in_flat_memory_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 60_000
    migrate.upgrade(postgres_url)
    store = HistoryStore(postgres_url)
    for page in range(0, count, 20_000):
        batch = [
            Trade(str(i), T0 + i * 10, 100.0 + i, 1.0, "buy") for i in range(page, page + 20_000)
        ]
        store.write_page(TRADES, batch, Range(T0 + page * 10, T0 + (page + 20_000) * 10))
    window = Range(T0, T0 + count * 10)
    tracemalloc.start()
    assert len(list(store.iter_trades(TRADES, window))) == count
    held_as_list = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    with open(os.devnull, "w") as devnull:
        monkeypatch.setattr(sys, "stdout", devnull)
        base = tracemalloc.get_traced_memory()[0]
        assert main(["trades", "binance", "BTC/USDT", "--format", "csv"]) == 0
        streamed = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    store.close()
    # A list of every row costs tens of MB; streaming holds one fetch batch at a time.
    print(
        f"streamed peak {streamed / 1e6:.1f} MB, list {held_as_list / 1e6:.1f} MB", file=sys.stderr
    )
    assert streamed < held_as_list / 5, (streamed, held_as_list)


def test_reading_an_unmigrated_database_says_to_upgrade(cli: Cli, database_url: str) -> None:  # noqa: F811
    code, _, err = cli(database_url, "candles", "binance", "BTC/USDT")
    assert code == 2 and "run `ticker-service db upgrade` first" in err
