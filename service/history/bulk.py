"""Idempotent bulk writes of candles and trades, one page inside the caller's transaction.

Postgres: COPY the page into a temporary staging table (session-private, no
WAL, emptied at each commit), then one ``INSERT ... SELECT ... ON CONFLICT DO
NOTHING``. SQLite: ``executemany`` of the same ``INSERT ... ON CONFLICT DO
NOTHING``. Either way a row already stored is left alone, so a page written
twice inserts nothing the second time. Candles then get one more statement: a
stored candle that is still open takes the incoming values (open or closed);
a closed one is final and never changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from service.history.records import Candle, CandleSource, StreamKey, Trade

CANDLE_COLUMNS = (
    "exchange", "symbol", "timeframe", "open_time",
    "open", "high", "low", "close", "volume", "closed", "source",
)  # fmt: skip
TRADE_COLUMNS = ("exchange", "symbol", "time", "trade_id", "price", "amount", "side")
CANDLE_KEY = ("exchange", "symbol", "timeframe", "open_time")
CANDLE_VALUES = ("open", "high", "low", "close", "volume", "closed", "source")


def candle_values(key: StreamKey, candle: Candle, source: CandleSource) -> tuple[Any, ...]:
    timeframe = str(key.timeframe or "")
    return (
        key.exchange, key.symbol, timeframe, candle.open_time, candle.open, candle.high,
        candle.low, candle.close, candle.volume, candle.closed, str(source),
    )  # fmt: skip


def trade_values(key: StreamKey, trade: Trade) -> tuple[Any, ...]:
    return (
        key.exchange,
        key.symbol,
        trade.timestamp,
        trade.id,
        trade.price,
        trade.amount,
        trade.side,
    )


def write_candles(
    connection: Connection, key: StreamKey, candles: Sequence[Candle], source: CandleSource
) -> int:
    """Store ``candles`` of ``key``; returns how many were new."""
    values = [candle_values(key, candle, source) for candle in candles]
    if not values:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_then_insert(connection, "candles", CANDLE_COLUMNS, values, _pg_candle_update)
    inserted = _executemany_insert(connection, "candles", CANDLE_COLUMNS, values)
    _sqlite_candle_update(connection, values)
    return inserted


def write_trades(connection: Connection, key: StreamKey, trades: Sequence[Trade]) -> int:
    """Store ``trades`` of ``key``; returns how many were new."""
    values = [trade_values(key, trade) for trade in trades]
    if not values:
        return 0
    if connection.dialect.name == "postgresql":
        return _copy_then_insert(connection, "trades", TRADE_COLUMNS, values, None)
    return _executemany_insert(connection, "trades", TRADE_COLUMNS, values)


def _executemany_insert(
    connection: Connection, table: str, columns: Sequence[str], values: list[tuple[Any, ...]]
) -> int:
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", values
        )
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _sqlite_candle_update(connection: Connection, values: list[tuple[Any, ...]]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in CANDLE_VALUES)
    match = " AND ".join(f"{name} = ?" for name in CANDLE_KEY)
    # Row layout: key columns first (4), then the values: reorder for the statement.
    params = [row[4:] + row[:4] for row in values]
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(f"UPDATE candles SET {assignments} WHERE {match} AND NOT closed", params)
    finally:
        cursor.close()


def _copy_then_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    values: list[tuple[Any, ...]],
    after: Any,
) -> int:
    staging = f"staging_{table}"
    names = ", ".join(columns)
    # Temporary: private to this session (no clash between workers or test schemas),
    # never logged; ON COMMIT DELETE ROWS empties it for the next page.
    connection.execute(
        text(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    )
    cursor = connection.connection.cursor()
    try:
        cursor.copy_expert(f"COPY {staging} ({names}) FROM STDIN WITH (FORMAT csv)", _csv(values))
    finally:
        cursor.close()
    result = connection.execute(
        text(f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} ON CONFLICT DO NOTHING")
    )
    if after is not None:
        after(connection, staging)
    return int(result.rowcount)


def _pg_candle_update(connection: Connection, staging: str) -> None:
    assignments = ", ".join(f"{name} = s.{name}" for name in CANDLE_VALUES)
    match = " AND ".join(f"c.{name} = s.{name}" for name in CANDLE_KEY)
    ours = ", ".join(f"c.{name}" for name in CANDLE_VALUES)
    theirs = ", ".join(f"s.{name}" for name in CANDLE_VALUES)
    connection.execute(
        text(
            f"UPDATE candles AS c SET {assignments} FROM {staging} AS s "
            f"WHERE {match} AND NOT c.closed AND ({ours}) IS DISTINCT FROM ({theirs})"
        )
    )


def _csv(values: list[tuple[Any, ...]]) -> io.StringIO:
    # None becomes an empty unquoted field: COPY's NULL in csv format.
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(values)
    buffer.seek(0)
    return buffer
