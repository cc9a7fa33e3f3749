"""HistoryStore against real SQLite and Postgres: idempotent pages, the ledger, partitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.db import migrate
from service.errors import DatabaseError
from service.history.records import (
    MINUTE_MS,
    Candle,
    CandleSource,
    Gap,
    GapReason,
    Range,
    Stream,
    StreamKey,
    Timeframe,
    Trade,
)
from service.history.store import HistoryStore

TRADES = StreamKey("bin", "BTC/USDT", Stream.TRADES)
CANDLES = StreamKey("bin", "BTC/USDT", Stream.CANDLES, Timeframe.M1)
T0 = int(datetime(2026, 9, 30, 23, 0, tzinfo=UTC).timestamp() * 1000)
NOW = int(datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp() * 1000)


def migrated_store(url: str) -> Iterator[HistoryStore]:
    migrate.upgrade(url)
    history = HistoryStore(url, clock=lambda: NOW)
    yield history
    history.close()


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    yield from migrated_store(database_url)


def trades(first: int, count: int, start_ms: int = T0, step_ms: int = 1_000) -> list[Trade]:
    return [
        Trade(str(i), start_ms + (i - first) * step_ms, 100.0 + i, 0.5, "buy" if i % 2 else "sell")
        for i in range(first, first + count)
    ]


def candle(minute: int, close: float, *, closed: bool = True) -> Candle:
    return Candle(T0 + minute * MINUTE_MS, 1.0, 2.0, 0.5, close, 10.0, closed)


def minutes(start: int, end: int) -> Range:
    return Range(T0 + start * MINUTE_MS, T0 + end * MINUTE_MS)


def ledger_rows(store: HistoryStore) -> list[Any]:
    with store.engine.connect() as connection:
        query = "SELECT stream, start_ms, end_ms, state, error FROM history_ledger ORDER BY 1, 2"
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_writing_the_same_page_twice_inserts_nothing_the_second_time(store: HistoryStore) -> None:
    page = trades(0, 500)
    assert store.write_page(TRADES, page, minutes(0, 9)) == 500
    assert store.write_page(TRADES, page, minutes(0, 9)) == 0
    assert list(store.iter_trades(TRADES, minutes(0, 60))) == page
    bars = [candle(m, 1.5) for m in range(30)]
    assert store.write_page(CANDLES, bars, minutes(0, 30)) == 30
    assert store.write_page(CANDLES, bars, minutes(0, 30)) == 0
    assert list(store.iter_candles(CANDLES, minutes(0, 30))) == bars


def test_a_closed_candle_is_never_replaced_by_an_open_one_but_an_open_one_is(
    store: HistoryStore,
) -> None:
    store.write_page(CANDLES, [candle(0, 1.0), candle(1, 1.1, closed=False)], minutes(0, 1))
    store.write_page(
        CANDLES,
        [candle(0, 9.9, closed=False), candle(1, 1.2)],
        Range(T0, T0),
        source=CandleSource.WS,
    )
    assert list(store.iter_candles(CANDLES, minutes(0, 2))) == [candle(0, 1.0), candle(1, 1.2)]
    store.write_page(CANDLES, [candle(1, 7.7, closed=False)], Range(T0, T0))
    assert [c.close for c in store.iter_candles(CANDLES, minutes(0, 2))] == [1.0, 1.2]


def test_an_open_candle_takes_newer_open_values(store: HistoryStore) -> None:
    store.write_page(CANDLES, [candle(0, 1.0, closed=False)], Range(T0, T0))
    store.write_page(CANDLES, [candle(0, 1.3, closed=False)], Range(T0, T0))
    assert list(store.iter_candles(CANDLES, minutes(0, 1))) == [candle(0, 1.3, closed=False)]


def test_coverage_over_a_wanted_range_after_pages_and_gaps_with_merged_ranges(
    store: HistoryStore,
) -> None:
    for page in range(10):  # ten adjacent pages: one complete range in the ledger
        store.write_page(
            TRADES, trades(page * 60, 60, T0 + page * MINUTE_MS), minutes(page, page + 1)
        )
    store.write_page(TRADES, [], minutes(10, 12))  # no trades there: complete and empty
    store.record_gap(TRADES, Gap(minutes(20, 30), GapReason.FETCH_FAILED, "HTTP 503"))
    store.record_gap(TRADES, Gap(minutes(5, 25), GapReason.SERVICE_DOWN))  # never un-completes
    coverage = store.coverage(TRADES, minutes(0, 40))
    assert coverage.complete == (minutes(0, 12),)
    assert coverage.gaps == (
        Gap(minutes(12, 25), GapReason.SERVICE_DOWN),
        Gap(minutes(25, 30), GapReason.FETCH_FAILED, "HTTP 503"),
        Gap(minutes(30, 40), GapReason.NOT_FETCHED),
    )
    assert coverage.newest_ms == T0 + 599_000
    assert len(ledger_rows(store)) == 3
    store.write_page(TRADES, [], minutes(12, 30))  # the retry succeeds: the gaps close
    assert store.coverage(TRADES, minutes(0, 30)).gaps == ()
    assert len(ledger_rows(store)) == 1


def test_a_page_whose_rows_fail_changes_neither_rows_nor_ledger(store: HistoryStore) -> None:
    store.write_page(TRADES, trades(0, 10), minutes(0, 1))
    before = ledger_rows(store)
    bad = [*trades(10, 5), Trade("15", T0 + 70_000, None, 1.0, "buy")]  # type: ignore[arg-type]
    with pytest.raises(DatabaseError, match="writing a page of bin BTC/USDT trades"):
        store.write_page(TRADES, bad, minutes(1, 2))
    assert ledger_rows(store) == before
    assert len(list(store.iter_trades(TRADES, minutes(0, 10)))) == 10
    assert store.write_page(TRADES, trades(10, 5), minutes(1, 2)) == 5  # the store still works


def test_newest_trade_id_orders_numeric_ids_as_numbers(store: HistoryStore) -> None:
    assert store.newest_trade_id(TRADES) is None
    same_time = [Trade(str(i), T0, 1.0, 1.0, None) for i in (8, 9, 10, 11)]
    store.write_page(TRADES, same_time, Range(T0, T0 + 1))
    assert store.newest_trade_id(TRADES) == "11"
    assert [t.id for t in store.iter_trades(TRADES, Range(T0, T0 + 1))] == ["8", "9", "10", "11"]


def test_reads_are_half_open_windows_of_one_stream_only(store: HistoryStore) -> None:
    store.write_page(TRADES, trades(0, 120, step_ms=MINUTE_MS // 2), minutes(0, 60))
    other = StreamKey("bin", "ETH/USDT", Stream.TRADES)
    store.write_page(other, trades(0, 5), minutes(0, 1))
    window = list(store.iter_trades(TRADES, minutes(1, 3)))
    assert [t.timestamp for t in window] == [T0 + s * 30_000 for s in range(2, 6)]


def test_rows_that_do_not_fit_the_stream_are_refused(store: HistoryStore) -> None:
    from service.errors import ValidationError

    with pytest.raises(ValidationError, match="expected Trade rows, got Candle"):
        store.write_page(TRADES, [candle(0, 1.0)], minutes(0, 1))


# -- Postgres partitions ------------------------------------------------------------------


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[HistoryStore]:
    yield from migrated_store(postgres_url)


def _partitions_in_schema(store: HistoryStore) -> set[str]:
    query = (
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
    )
    with store.engine.connect() as connection:
        return set(connection.execute(sa.text(query)).scalars())


def test_writes_create_the_partitions_of_their_months_and_the_next_in_the_test_schema(
    pg_store: HistoryStore,
) -> None:
    # T0 is 2026-09-30 23:00: two hours of trades every 4 s span September and October.
    pg_store.write_page(TRADES, trades(0, 1800, step_ms=4_000), minutes(0, 120))
    assert _partitions_in_schema(pg_store) == {
        "trades_p202609", "trades_p202610", "trades_p202612", "trades_p202701"
    }  # fmt: skip
    assert len(list(pg_store.iter_trades(TRADES, minutes(0, 120)))) == 1800


def test_drop_partitions_before_drops_only_whole_old_months(pg_store: HistoryStore) -> None:
    pg_store.write_page(TRADES, trades(0, 1800, step_ms=4_000), minutes(0, 120))
    mid_october = int(datetime(2026, 10, 15, tzinfo=UTC).timestamp() * 1000)
    assert pg_store.drop_partitions_before(mid_october) == ["trades_p202609"]
    assert "trades_p202609" not in _partitions_in_schema(pg_store)
    left = list(pg_store.iter_trades(TRADES, minutes(0, 120)))
    october = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
    assert [t.id for t in left] == [str(i) for i in range(900, 1800)]
    coverage = pg_store.coverage(TRADES, minutes(0, 120))
    assert coverage.complete == (Range(october, T0 + 120 * MINUTE_MS),)
    assert coverage.gaps[0].range == Range(T0, october)
    assert pg_store.drop_partitions_before(mid_october) == []
    # A write into a dropped month creates it again.
    assert pg_store.write_page(TRADES, trades(0, 5), minutes(0, 1)) == 5


def test_sqlite_has_no_partitions_to_drop(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)
    history = HistoryStore(sqlite_url)
    try:
        assert history.drop_partitions_before(NOW) == []
    finally:
        history.close()


def test_retention_is_off_by_default_and_a_bad_value_names_the_variable(
    pg_store: HistoryStore,
) -> None:
    from service.errors import ConfigError
    from service.settings import Settings

    assert Settings.from_env({}).history_retention_days is None
    assert Settings.from_env({"HISTORY_RETENTION_DAYS": "30"}).history_retention_days == 30
    with pytest.raises(ConfigError, match="HISTORY_RETENTION_DAYS='-3': expected a whole number"):
        Settings.from_env({"HISTORY_RETENTION_DAYS": "-3"})
    pg_store.write_page(TRADES, trades(0, 10), minutes(0, 1))  # September 2026
    assert pg_store.apply_retention(None, NOW) == []
    assert pg_store.apply_retention(90, NOW) == []  # the cutoff falls in September: kept
    assert pg_store.apply_retention(30, NOW) == ["trades_p202609"]


def test_concurrent_writers_of_one_stream_leave_one_merged_range(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    migrate.upgrade(database_url)
    stores = [HistoryStore(database_url, clock=lambda: NOW) for _ in range(4)]

    def write(worker: int) -> int:
        # Pages 0..39 dealt round-robin: neighbours are written by different writers.
        return sum(
            stores[worker].write_page(
                TRADES, trades(page * 10, 10, T0 + page * MINUTE_MS), minutes(page, page + 1)
            )
            for page in range(worker, 40, 4)
        )

    try:
        with ThreadPoolExecutor(4) as pool:
            assert sum(pool.map(write, range(4))) == 400
        coverage = stores[0].coverage(TRADES, minutes(0, 40))
        assert (coverage.complete, coverage.gaps) == ((minutes(0, 40),), ())
        assert len(ledger_rows(stores[0])) == 1
    finally:
        for store in stores:
            store.close()


def test_an_unmigrated_database_is_a_database_error_not_a_trace(database_url: str) -> None:
    history = HistoryStore(database_url, clock=lambda: NOW)
    try:
        with pytest.raises(DatabaseError, match="failed on"):
            history.write_page(TRADES, trades(0, 3), minutes(0, 1))
        with pytest.raises(DatabaseError, match="reading the coverage of bin BTC/USDT trades"):
            history.coverage(TRADES, minutes(0, 1))
    finally:
        history.close()
