"""Bulk ingest of trades into Postgres: ``HistoryStore.write_page`` against ``executemany``.

Both write the same kind of pages (1,000 of the simulator's trades, distinct
rows per side and round) into the same partitioned ``trades`` table, one
transaction per page; ``write_page`` also advances the ledger in its
transaction (contiguous ranges, as a backfill's pages are), the baseline is a
plain psycopg2 ``executemany`` of ``INSERT ... ON CONFLICT DO NOTHING``.
Rounds alternate which goes first.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import median
from service.history.bulk import TRADE_COLUMNS, trade_values
from service.history.partitions import months_needed
from service.history.records import Range, Stream, StreamKey, Trade
from service.history.store import HistoryStore
from service.simulator import history as truth

PAGE_ROWS = 1000  # Binance's largest trades page
Pages = list[list[Trade]]


def bulk_ingest(
    store: HistoryStore, symbol: str, *, rows: int, baseline_rows: int, rounds: int
) -> dict[str, Any]:
    """Rows/s of each side per round and their medians (``rows`` trades through
    ``write_page``, ``baseline_rows`` through ``executemany``, per round)."""
    results: list[dict[str, float]] = []
    next_id = 0
    for index in range(rounds):
        copy_pages = _pages(symbol, next_id, rows)
        next_id += rows
        plain_pages = _pages(symbol, next_id, baseline_rows)
        next_id += baseline_rows
        _partitions_for(store, copy_pages + plain_pages)
        timed = {
            "write_page": (_write_pages, f"copy{index}", copy_pages),
            "executemany": (_executemany, f"plain{index}", plain_pages),
        }
        order = ("write_page", "executemany") if index % 2 == 0 else ("executemany", "write_page")
        results.append({name: _rate(store, symbol, *timed[name]) for name in order})
    copy_rate = median([r["write_page"] for r in results])
    plain_rate = median([r["executemany"] for r in results])
    return {"rounds": results, "write_page_rows_per_s": copy_rate,
            "executemany_rows_per_s": plain_rate, "ratio": copy_rate / plain_rate}  # fmt: skip


def _rate(store: HistoryStore, symbol: str, write: Any, exchange: str, pages: Pages) -> float:
    return float(write(store, exchange, symbol, pages))


def _pages(symbol: str, first_id: int, rows: int) -> list[list[Trade]]:
    return [
        truth.trades_from_id(symbol, start, min(PAGE_ROWS, first_id + rows - start))
        for start in range(first_id, first_id + rows, PAGE_ROWS)
    ]


def _partitions_for(store: HistoryStore, pages: list[list[Trade]]) -> None:
    if store.partitions is not None:
        times = (page[0].timestamp for page in pages)
        store.partitions.ensure(months_needed(times, int(time.time() * 1000)))


def _write_pages(
    store: HistoryStore, exchange: str, symbol: str, pages: list[list[Trade]]
) -> float:
    key = StreamKey(exchange, symbol, Stream.TRADES)
    started, rows, reached = time.perf_counter(), 0, pages[0][0].timestamp
    for page in pages:  # contiguous ranges, as a backfill's pages are: one ledger entry
        rows += store.write_page(key, page, Range(reached, page[-1].timestamp))
        reached = page[-1].timestamp
    return rows / (time.perf_counter() - started)


def _executemany(
    store: HistoryStore, exchange: str, symbol: str, pages: list[list[Trade]]
) -> float:
    key = StreamKey(exchange, symbol, Stream.TRADES)
    names, marks = ", ".join(TRADE_COLUMNS), ", ".join(["%s"] * len(TRADE_COLUMNS))
    statement = f"INSERT INTO trades ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING"
    connection = store.engine.raw_connection()
    started, rows = time.perf_counter(), 0
    try:
        for page in pages:
            with connection.cursor() as cursor:
                cursor.executemany(statement, [trade_values(key, t) for t in page])
                rows += len(page)
            connection.commit()
    finally:
        connection.close()
    return rows / (time.perf_counter() - started)
