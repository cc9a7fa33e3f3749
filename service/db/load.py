"""The beat's read of the tables, one row at a time: a row it cannot decode is skipped, named.

Rows may be written with plain SQL, so a cell can hold anything the database
lets through: text that is not JSON in a JSON column, a list where an object
belongs, 'abc' in a numeric column or 2 in a boolean one (SQLite stores what
it is given). Columns are therefore read raw (JSON ones as text, the others
without SQLAlchemy's result processing) and decoded here per row, so that
one bad cell skips its own row and never fails the whole read.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from service.db.models import Exchange, Symbol
from service.db.skipped import SkippedRow, Table
from service.db.snapshot import ExchangeSnapshot, LoadedRows, SymbolHistory
from service.db.validation import ColumnError, json_type

JSON_COLUMNS = ("ccxt_params", "watch_params")
HISTORY_COLUMNS = (Symbol.trades, Symbol.candles, Symbol.history_since)
TEXT_COLUMNS = ("name", "ccxt_id", "mode")


def _raw(column: Any) -> ColumnElement[Any]:
    # The value as the driver returns it: no Boolean/Float processing that could
    # turn 2 into True or raise on one row for all.
    return type_coerce(column, NullType()).label(column.key)


def exchange_columns() -> list[ColumnElement[Any]]:
    """The exchanges table's columns, raw, labelled by name, for ``decode_exchange``."""
    raw = [_raw(getattr(Exchange, name)) for name in ("id", *TEXT_COLUMNS, "enabled")]
    # JSON as text: SQLAlchemy's JSON type would decode in the fetch, where one
    # bad document fails every row.
    as_text = [cast(getattr(Exchange, name), Text).label(name) for name in JSON_COLUMNS]
    return [*raw, _raw(Exchange.poll_interval_s), *as_text]


def load_rows(session: Session) -> LoadedRows:
    """Every enabled exchange with its enabled symbols, by name; two queries in all.

    Rows are decoded, not validated: the beat's plan checks each snapshot.
    A row that cannot be decoded (or whose ``enabled`` is neither true nor
    false) is in ``skipped``; a disabled row is neither read further nor reported.
    """
    skipped: list[SkippedRow] = []
    history: list[SymbolHistory] = []
    exchanges: dict[Any, ExchangeSnapshot] = {}
    all_ids: set[Any] = set()
    for row in session.execute(select(*exchange_columns()).order_by(Exchange.id)):
        all_ids.add(row.id)
        snapshot = _exchange(row._mapping, skipped)
        if snapshot is not None:
            exchanges[row.id] = snapshot
    symbols = _symbols(session, exchanges, all_ids, skipped, history)
    loaded = [
        replace(snapshot, symbols=tuple(sorted(symbols[row_id])), row_id=row_id)
        for row_id, snapshot in exchanges.items()
    ]
    # Sorted here, not in SQL: Postgres collations may order differently.
    loaded.sort(key=lambda snapshot: snapshot.name)
    return LoadedRows(tuple(loaded), tuple(skipped), tuple(history))


def _exchange(row: Any, skipped: list[SkippedRow]) -> ExchangeSnapshot | None:
    """The row as a snapshot; None when disabled or undecodable (then it is in ``skipped``)."""
    try:
        return decode_exchange(row) if enabled_flag(row["enabled"]) else None
    except ColumnError as exc:
        name = row["name"]
        error = f"exchange {name!r}: {exc}"
        skipped.append(
            SkippedRow.of(Table.EXCHANGES, name, exc.column, error, exchange=name, row_id=row["id"])
        )
        return None


def decode_exchange(row: Any) -> ExchangeSnapshot:
    """A row of ``exchange_columns`` as a snapshot (no symbols); raises ColumnError."""
    return ExchangeSnapshot(
        name=_text(row, "name"),
        ccxt_id=_text(row, "ccxt_id"),
        ccxt_params=_json_object(row, "ccxt_params"),
        mode=_text(row, "mode"),
        poll_interval_s=_number(row, "poll_interval_s"),
        watch_params=_json_object(row, "watch_params"),
    )


def _symbols(
    session: Session,
    exchanges: dict[Any, ExchangeSnapshot],
    all_ids: set[Any],
    skipped: list[SkippedRow],
    history: list[SymbolHistory],
) -> defaultdict[Any, list[str]]:
    """The enabled symbols of each readable exchange, by exchange id; ``history`` gets
    what each of them collects besides tickers."""
    symbols: defaultdict[Any, list[str]] = defaultdict(list)
    columns = (Symbol.id, Symbol.exchange_id, Symbol.symbol, Symbol.enabled, *HISTORY_COLUMNS)
    for row in session.execute(select(*map(_raw, columns)).order_by(Symbol.id)):
        exchange = exchanges.get(row.exchange_id)
        try:
            if exchange is None:
                _orphan(row.exchange_id, all_ids)
            elif enabled_flag(row.enabled):
                # Decoded before the symbol is kept: a bad history cell skips the row.
                collects = decode_history(exchange.name, row)
                symbols[row.exchange_id].append(_symbol(row.symbol))
                if collects.trades or collects.candles:
                    history.append(collects)
        except ColumnError as exc:
            skipped.append(_skipped_symbol(row, exchange.name if exchange else "", exc))
    return symbols


def _skipped_symbol(row: Any, exchange: str, exc: ColumnError) -> SkippedRow:
    error = f"exchange {exchange!r} symbol {row.symbol!r}: {exc}"
    return SkippedRow.of(
        Table.SYMBOLS, row.symbol, exc.column, error, exchange=exchange, row_id=row.id
    )


def _orphan(exchange_id: Any, all_ids: set[Any]) -> None:
    # A symbol of a disabled or skipped exchange is not read further. One whose
    # exchange does not exist is possible on SQLite, whose foreign keys are off
    # unless a connection turns them on.
    if exchange_id not in all_ids:
        raise ColumnError(f"exchange_id {exchange_id!r} names no exchange", column="exchange_id")


def enabled_flag(value: Any, column: str = "enabled") -> bool:
    """A flag as stored: true/false, or 1/0 on SQLite; anything else is ambiguous."""
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    shown = "NULL" if value is None else repr(value)
    raise ColumnError(f"{column} is {shown}: expected true or false (1 or 0)", column=column)


def decode_history(exchange: str, row: Any) -> SymbolHistory:
    """What a symbols row collects besides tickers; raises ColumnError naming the column."""
    since = row.history_since
    if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
        raise ColumnError(
            f"history_since is {since!r}: expected UTC epoch milliseconds or NULL",
            column="history_since",
        )
    return SymbolHistory(
        exchange=exchange,
        symbol=_symbol(row.symbol),
        trades=enabled_flag(row.trades, "trades"),
        candles=enabled_flag(row.candles, "candles"),
        since_ms=since,
    )


def _text(row: Any, column: str) -> str:
    value = row[column]
    if not isinstance(value, str):
        shown = "NULL" if value is None else f"{type(value).__name__} {value!r}"
        raise ColumnError(f"{column} is {shown}: expected text", column=column)
    return value


def _symbol(value: Any) -> str:
    if not isinstance(value, str):
        shown = "NULL" if value is None else f"{type(value).__name__} {value!r}"
        raise ColumnError(f"symbol is {shown}: expected text", column="symbol")
    return value


def _number(row: Any, column: str) -> float:
    value = row[column]
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = "NULL" if value is None else repr(value)
        raise ColumnError(f"{column} is {shown}: expected a number of seconds", column=column)
    return float(value)


def _json_object(row: Any, column: str) -> dict[str, Any]:
    """The column's JSON object; its text is never quoted (params may hold a secret)."""
    raw = row[column]
    if raw is None:
        message = f"{column} is NULL: expected a JSON object ({{}} for none)"
        raise ColumnError(message, column=column)
    try:
        value = json.loads(raw)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise ColumnError(f"{column} is not valid JSON ({_reason(exc)})", column=column) from None
    if not isinstance(value, dict):
        raise ColumnError(
            f"{column} must be a JSON object ({{}} for none), not {json_type(value)}", column=column
        )
    return value


def _reason(exc: ValueError) -> str:
    # The decoder's message and position: never the document itself.
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return "not UTF-8 text"
