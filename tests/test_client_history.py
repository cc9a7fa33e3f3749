"""The client's candles, trades and coverage against real SQLite and Postgres stores.

Rows go in through the repository (``HistoryStore.write_page``, as the backfill
writes them) and come back through ``TickerClient``/``SyncTickerClient``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.db import migrate, repo
from service.db.session import migrated_session
from service.history import records as stored
from service.history.records import MINUTE_MS, GapReason, Range, Stream, StreamKey, Timeframe
from service.history.store import HistoryStore
from ticker_client import (
    Candle,
    HistoryNotConfigured,
    HistoryUnavailable,
    InvalidArgument,
    NotFound,
    SyncTickerClient,
    TickerClient,
    Trade,
)

EXCHANGE, SYMBOL = "bin", "BTC/USDT"
TRADES = StreamKey(EXCHANGE, SYMBOL, Stream.TRADES)
CANDLES = StreamKey(EXCHANGE, SYMBOL, Stream.CANDLES, Timeframe.M1)
T0_UTC = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
T0 = int(T0_UTC.timestamp() * 1000)
HTTP_503 = "HTTP 503 from the exchange"


def minutes(start: int, end: int) -> Range:
    return Range(T0 + start * MINUTE_MS, T0 + end * MINUTE_MS)


def stored_trades(count: int, step_ms: int = 250) -> list[stored.Trade]:
    return [
        stored.Trade(str(100 + i), T0 + i * step_ms, 50_000.0 + i, 0.25, "buy" if i % 2 else "sell")
        for i in range(count)
    ]


def stored_candles(count: int) -> list[stored.Candle]:
    return [
        stored.Candle(T0 + m * MINUTE_MS, 10.0 + m, 12.0 + m, 9.0 + m, 11.0 + m, 3.5, m < count - 1)
        for m in range(count)
    ]


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    migrate.upgrade(database_url)
    history = HistoryStore(database_url)
    yield history
    history.close()


def collect_history(database_url: str, since_ms: int) -> None:
    """An exchange row and its symbol collecting trades and candles since ``since_ms``."""
    with migrated_session(database_url) as session:
        repo.add_exchange(session, EXCHANGE, "binance")
        choice = repo.HistoryChoice(trades=True, candles=True, since_ms=since_ms)
        repo.add_symbols(session, EXCHANGE, [SYMBOL], history=choice)


async def test_candles_and_trades_come_back_typed_with_utc_datetimes_beside_the_epoch_ms(
    store: HistoryStore, database_url: str
) -> None:
    store.write_page(TRADES, stored_trades(600), minutes(0, 3))
    store.write_page(CANDLES, stored_candles(5), minutes(0, 5))

    async with TickerClient(database_url=database_url) as client:
        # [start, end): a datetime and epoch ms mixed; the end is excluded
        candles = [c async for c in client.candles(EXCHANGE, SYMBOL, T0_UTC, T0 + 3 * MINUTE_MS)]
        trades = [t async for t in client.trades(EXCHANGE, SYMBOL, T0 + 1_000, T0 + 2_000)]
        everything = [c async for c in client.candles(EXCHANGE, SYMBOL)]

    assert candles == [
        Candle(
            EXCHANGE, SYMBOL, T0 + m * MINUTE_MS, 10.0 + m, 12.0 + m, 9.0 + m, 11.0 + m, 3.5, True
        )
        for m in range(3)
    ]
    assert candles[1].open_time_utc == T0_UTC + timedelta(minutes=1)
    assert candles[1].open_time_utc.tzinfo is UTC
    assert [t.id for t in trades] == ["104", "105", "106", "107"]
    assert trades[0] == Trade(EXCHANGE, SYMBOL, "104", T0 + 1_000, 50_004.0, 0.25, "sell")
    assert trades[0].timestamp_utc == T0_UTC + timedelta(seconds=1)
    assert [c.closed for c in everything] == [True, True, True, True, False]


def test_the_sync_twin_reads_the_same_rows_as_plain_iterators(
    store: HistoryStore, database_url: str
) -> None:
    store.write_page(TRADES, stored_trades(50), minutes(0, 1))
    store.write_page(CANDLES, stored_candles(2), minutes(0, 2))

    with SyncTickerClient(database_url=database_url) as client:
        trades = client.trades(EXCHANGE, SYMBOL, T0_UTC, T0_UTC + timedelta(seconds=5))
        candles = client.candles(EXCHANGE, SYMBOL, end=T0 + MINUTE_MS)
        assert not isinstance(trades, list) and iter(trades) is trades
        assert [t.id for t in trades] == [str(100 + i) for i in range(20)]
        assert [c.open_time_utc for c in candles] == [T0_UTC]
        assert list(client.trades(EXCHANGE, "ETH/USDT")) == []


async def test_coverage_shows_complete_ranges_and_every_gap_with_its_reason(
    store: HistoryStore, database_url: str
) -> None:
    collect_history(database_url, since_ms=T0)
    store.write_page(TRADES, stored_trades(600), minutes(0, 10))
    store.write_page(CANDLES, stored_candles(10), minutes(0, 10))
    store.record_gap(TRADES, stored.Gap(minutes(20, 30), GapReason.FETCH_FAILED, HTTP_503))

    async with TickerClient(database_url=database_url) as client:
        candles, trades = await client.coverage(EXCHANGE, SYMBOL, end=T0 + 60 * MINUTE_MS)
        windowed = await client.coverage(EXCHANGE, SYMBOL, T0_UTC, T0_UTC + timedelta(minutes=10))
        with pytest.raises(NotFound, match="ETH/USDT on bin collects no history"):
            await client.coverage(EXCHANGE, "ETH/USDT")

    assert (trades.stream, trades.timeframe, candles.timeframe) == (Stream.TRADES, None, "1m")
    assert (trades.since_ms, trades.until_ms, trades.since_utc) == (T0, T0 + 60 * MINUTE_MS, T0_UTC)
    assert [(r.start_ms, r.end_ms) for r in trades.complete] == [(T0, T0 + 10 * MINUTE_MS)]
    assert [(g.start_ms, g.end_ms, g.reason, g.error) for g in trades.gaps] == [
        (T0 + 10 * MINUTE_MS, T0 + 20 * MINUTE_MS, GapReason.NOT_FETCHED, None),
        (T0 + 20 * MINUTE_MS, T0 + 30 * MINUTE_MS, GapReason.FETCH_FAILED, HTTP_503),
        (T0 + 30 * MINUTE_MS, T0 + 60 * MINUTE_MS, GapReason.NOT_FETCHED, None),
    ]  # fmt: skip
    assert trades.gap_minutes == 50 and not trades.gap_free
    assert trades.complete_until_utc == T0_UTC + timedelta(minutes=10)
    assert trades.newest_ms == T0 + 599 * 250 and trades.gaps[1].start_utc.tzinfo is UTC
    assert candles.newest_utc == T0_UTC + timedelta(minutes=9)
    assert all(c.gap_free for c in windowed) and len(windowed) == 2
    with SyncTickerClient(database_url=database_url) as sync:
        assert sync.coverage(EXCHANGE, SYMBOL, end=T0 + 60 * MINUTE_MS) == [candles, trades]


async def test_an_async_read_streams_in_batches_never_a_whole_list(
    store: HistoryStore, database_url: str
) -> None:
    store.write_page(TRADES, stored_trades(20_000, step_ms=10), minutes(0, 4))

    async with TickerClient(database_url=database_url) as client:
        stream = client.trades(EXCHANGE, SYMBOL, batch_rows=500)
        first = await anext(stream)
        await asyncio.sleep(0.5)  # time for the reader to run ahead as far as it may
        ahead = stream.fetched
        rest = 0
        async for batch in stream.batches():
            assert len(batch) <= 500
            rest += len(batch)

    assert first.id == "100"
    assert 500 <= ahead <= 4 * 500, ahead  # a few batches ahead, not 20,000 rows
    assert 1 + rest == stream.fetched == 20_000


@contextmanager
def table_locked(database_url: str) -> Iterator[Callable[[], None]]:
    """Every reader of the trades table waits until the function given is called."""
    engine = sa.create_engine(database_url)
    raw = engine.raw_connection()
    cursor = raw.cursor()
    if engine.dialect.name == "sqlite":
        raw.driver_connection.isolation_level = None  # type: ignore[union-attr]
        cursor.execute("BEGIN EXCLUSIVE")
        release = lambda: cursor.execute("ROLLBACK")  # noqa: E731
    else:
        cursor.execute("LOCK TABLE trades IN ACCESS EXCLUSIVE MODE")
        release = raw.rollback
    try:
        yield release
    finally:
        raw.close()
        engine.dispose()


async def test_a_slow_database_never_blocks_the_event_loop(
    store: HistoryStore, database_url: str
) -> None:
    store.write_page(TRADES, stored_trades(10), minutes(0, 1))
    async with TickerClient(database_url=database_url) as client:
        stream = client.trades(EXCHANGE, SYMBOL)
        with table_locked(database_url) as release:
            pending = asyncio.ensure_future(anext(stream))
            began = time.monotonic()
            done, _ = await asyncio.wait({pending}, timeout=0.3)
            waited = time.monotonic() - began
            release()
        assert not done and waited < 1.0  # the loop ran on while the read waited on the lock
        assert (await pending).id == "100"
        await stream.aclose()


def history_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ticker-client-history"]


async def no_reading_thread_left(client: TickerClient) -> None:
    deadline = time.monotonic() + 3
    while history_threads() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert history_threads() == []
    reader_store = client.history._store
    assert reader_store is not None and reader_store.engine.pool.checkedout() == 0


async def test_stopping_early_ends_the_reading_thread_and_frees_its_connection(
    store: HistoryStore, database_url: str
) -> None:
    store.write_page(TRADES, stored_trades(5_000), minutes(0, 21))

    async with TickerClient(database_url=database_url) as client:
        async with client.trades(EXCHANGE, SYMBOL, batch_rows=100) as trades:
            async for trade in trades:
                if trade.id == "150":
                    break
        await no_reading_thread_left(client)

        async for trade in client.trades(EXCHANGE, SYMBOL, batch_rows=100):
            if trade.id == "150":
                break  # and the stream is dropped without being closed
        await no_reading_thread_left(client)


async def test_without_a_database_url_history_calls_fail_at_once_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for client in (TickerClient(), TickerClient.from_env()):
        with pytest.raises(HistoryNotConfigured, match="DATABASE_URL"):
            client.candles(EXCHANGE, SYMBOL)
        with pytest.raises(HistoryNotConfigured, match="database_url="):
            await client.coverage(EXCHANGE, SYMBOL)
        await client.aclose()
    with SyncTickerClient() as sync, pytest.raises(HistoryNotConfigured):
        sync.trades(EXCHANGE, SYMBOL)
    with (
        SyncTickerClient(database_url="ticks.db") as sync,
        pytest.raises(HistoryNotConfigured, match=r"database URL 'ticks\.db'"),
    ):
        next(sync.candles(EXCHANGE, SYMBOL))
    env = {"DATABASE_URL": "postgres://u:secret@db.example:5432/ticks"}
    client = TickerClient.from_env(env)
    assert client.history.database_url == "postgresql://u:secret@db.example:5432/ticks"
    await client.aclose()


def test_without_sqlalchemy_history_calls_say_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # as if not installed
    missing = r"needs sqlalchemy \(installed with the ticker-service package"
    with SyncTickerClient(database_url=sqlite_url) as client:
        with pytest.raises(HistoryNotConfigured, match=missing):
            client.candles(EXCHANGE, SYMBOL)
        with pytest.raises(HistoryNotConfigured, match=missing):
            client.coverage(EXCHANGE, SYMBOL)


async def test_a_database_that_cannot_be_read_raises_history_unavailable_with_the_fix(
    sqlite_url: str,
) -> None:
    async with TickerClient(database_url=sqlite_url) as client:  # never migrated
        with pytest.raises(HistoryUnavailable, match="ticker-service db upgrade"):
            [c async for c in client.candles(EXCHANGE, SYMBOL)]
    url = "postgresql://nobody:secret@127.0.0.1:1/none"
    with SyncTickerClient(database_url=url) as sync, pytest.raises(HistoryUnavailable) as raised:
        list(sync.trades(EXCHANGE, SYMBOL))
    assert "secret" not in str(raised.value)


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (datetime(2026, 11, 1), None, "start=.*without a timezone"),
        (None, 1.5e12, "end=1500000000000.0: expected a timezone-aware datetime"),
        (T0, T0 - 1, "end=.* is before start="),
        ("2026-11-01", None, "start='2026-11-01'"),
        (True, None, "start=True"),
    ],
)
def test_a_bad_time_is_refused_naming_the_argument(start: object, end: object, named: str) -> None:
    client = TickerClient(database_url="sqlite:///never-opened.db")
    with pytest.raises(InvalidArgument, match=named):
        client.trades(EXCHANGE, SYMBOL, start, end)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="batch_rows=0"):
        client.candles(EXCHANGE, SYMBOL, batch_rows=0)
    with pytest.raises(InvalidArgument, match="symbol=''"):
        client.candles(EXCHANGE, "")
