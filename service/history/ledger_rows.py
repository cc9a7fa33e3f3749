"""The ledger table read and written inside the caller's transaction (``history_ledger``).

``put`` replaces the entries one new entry touches by ``ledger.place``'s
answer: it deletes them with ``DELETE ... RETURNING`` (a write first, so on
SQLite the transaction holds the write lock before it reads) and inserts the
replacement. On Postgres a transaction-scoped advisory lock per stream
serialises two writers of the same stream; other streams never wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from sqlalchemy import Connection, Table, and_, delete, insert, select, text, update

from service.db.models import LedgerRow
from service.history.ledger import Entry, place
from service.history.records import Range, StreamKey

TABLE = cast(Table, LedgerRow.__table__)


def _key_filter(key: StreamKey):  # type: ignore[no-untyped-def]
    return and_(
        TABLE.c.exchange == key.exchange,
        TABLE.c.symbol == key.symbol,
        TABLE.c.stream == str(key.stream),
        TABLE.c.timeframe == str(key.timeframe or ""),
    )


def _lock(connection: Connection, key: StreamKey) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :key))"),
            {"key": f" ledger {key}"},
        )


def put(connection: Connection, key: StreamKey, new: Entry) -> None:
    """Place ``new`` in the ledger of ``key`` (merged with what it touches)."""
    _lock(connection, key)
    touching = delete(TABLE).where(
        _key_filter(key),
        TABLE.c.start_ms <= new.range.end_ms,
        TABLE.c.end_ms >= new.range.start_ms,
    )
    rows = connection.execute(
        touching.returning(TABLE.c.start_ms, TABLE.c.end_ms, TABLE.c.state, TABLE.c.error)
    ).all()
    old = [Entry(Range(row.start_ms, row.end_ms), row.state, row.error) for row in rows]
    replacement = place(old, new)
    connection.execute(
        insert(TABLE),
        [
            {
                "exchange": key.exchange, "symbol": key.symbol, "stream": str(key.stream),
                "timeframe": str(key.timeframe or ""), "start_ms": entry.range.start_ms,
                "end_ms": entry.range.end_ms, "state": entry.state, "error": entry.error,
            }
            for entry in replacement
        ],
    )  # fmt: skip


def entries(connection: Connection, key: StreamKey, window: Range) -> Iterator[Entry]:
    """The entries of ``key`` that overlap ``window``, in order."""
    query = (
        select(TABLE.c.start_ms, TABLE.c.end_ms, TABLE.c.state, TABLE.c.error)
        .where(_key_filter(key), TABLE.c.start_ms < window.end_ms, TABLE.c.end_ms > window.start_ms)
        .order_by(TABLE.c.start_ms)
    )
    for row in connection.execute(query):
        yield Entry(Range(row.start_ms, row.end_ms), row.state, row.error)


def forget_trades_before(connection: Connection, boundary_ms: int) -> None:
    """Retention dropped every trade before ``boundary_ms``: the ledger stops claiming them."""
    trades = TABLE.c.stream == "trades"
    connection.execute(delete(TABLE).where(trades, TABLE.c.end_ms <= boundary_ms))
    connection.execute(
        update(TABLE)
        .where(trades, TABLE.c.start_ms < boundary_ms, TABLE.c.end_ms > boundary_ms)
        .values(start_ms=boundary_ms)
    )
