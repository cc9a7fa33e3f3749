"""Plain functions over a ``Session``: the one way the CLI and the beat touch the tables.

Writers validate first and check for duplicates themselves, so an operator
sees ``ValidationError`` with a sentence, not an IntegrityError trace. They
flush but never commit: the caller's transaction makes each command
all-or-nothing (see ``service.db.session.session_scope``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import case, delete, func, or_, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from service.db.load import decode_exchange, enabled_flag, exchange_columns, load_rows
from service.db.models import Exchange, Symbol
from service.db.snapshot import ExchangeSnapshot, LoadedRows, check_exchange
from service.db.validation import ColumnError, validate_symbol
from service.errors import ValidationError

# How the params fields are named in messages to an operator: the CLI's options.
OPTION_LABELS = ("--params", "--watch-params")


@dataclass(frozen=True)
class ExchangeRow:
    """One exchange as listed to an operator, with its symbol counts."""

    name: str
    ccxt_id: str
    enabled: bool
    mode: str
    poll_interval_s: float
    ccxt_params: dict[str, Any]
    watch_params: dict[str, Any]
    symbols_enabled: int
    symbols_total: int
    # Why the beat skips this row when a column cannot be read (its value is then
    # shown empty); None when it reads fine.
    problem: str | None = None


@dataclass(frozen=True)
class SymbolRow:
    exchange: str
    symbol: str
    enabled: bool
    trades: bool = False
    candles: bool = False
    history_since: int | None = None  # UTC epoch ms


@dataclass(frozen=True)
class HistoryChoice:
    """What ``symbols add|set`` asks to collect besides tickers; None leaves a field as is."""

    trades: bool | None = None
    candles: bool | None = None
    since_ms: int | None = None

    def columns(self) -> dict[str, Any]:
        values = {"trades": self.trades, "candles": self.candles, "history_since": self.since_ms}
        return {name: value for name, value in values.items() if value is not None}


# -- exchanges ------------------------------------------------------------------


def add_exchange(
    session: Session,
    name: str,
    ccxt_id: str,
    *,
    ccxt_params: dict[str, Any] | None = None,
    mode: str = "auto",
    poll_interval_s: float = 2.0,
    watch_params: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Exchange:
    """Insert one exchange and return it; raises ValidationError (bad field, name taken)."""
    settings = ExchangeSnapshot(
        name, ccxt_id, ccxt_params or {}, mode, poll_interval_s, watch_params or {}
    )
    row = Exchange(enabled=enabled, **_columns(check_exchange(settings, labels=OPTION_LABELS)))
    if _exchange_id(session, name) is not None:
        raise ValidationError(f"an exchange named {name!r} already exists")
    session.add(row)
    _flush(session, f"an exchange named {name!r} already exists")
    return row


def list_exchanges(session: Session) -> list[ExchangeRow]:
    """Every exchange, by name, with how many of its symbols are enabled and in all.

    Columns are read raw and decoded per row: a row written with plain SQL that
    the beat cannot read is listed with its ``problem``, never failing the list.
    """
    counts = (
        select(
            Symbol.exchange_id,
            func.count().label("total"),
            func.sum(case((Symbol.enabled, 1), else_=0)).label("on"),
        )
        .group_by(Symbol.exchange_id)
        .subquery()
    )
    query = select(
        *exchange_columns(),
        func.coalesce(counts.c.on, 0).label("symbols_enabled"),
        func.coalesce(counts.c.total, 0).label("symbols_total"),
    ).outerjoin(counts, counts.c.exchange_id == Exchange.id)
    rows = [_listed(row._mapping) for row in session.execute(query)]
    return sorted(rows, key=lambda row: row.name)


def _listed(row: Any) -> ExchangeRow:
    """One exchange as listed; an unreadable column is shown empty and named in ``problem``."""
    enabled_count, total = int(row["symbols_enabled"]), int(row["symbols_total"])
    try:
        enabled = enabled_flag(row["enabled"])
        settings = _columns(decode_exchange(row))
    except ColumnError as exc:
        return ExchangeRow(
            name=str(row["name"]), ccxt_id=str(row["ccxt_id"]),
            enabled=_bool_or_raw(row["enabled"]) is True,
            mode=str(row["mode"]), poll_interval_s=0.0, ccxt_params={}, watch_params={},
            symbols_enabled=enabled_count, symbols_total=total, problem=str(exc),
        )  # fmt: skip
    return ExchangeRow(
        enabled=enabled, symbols_enabled=enabled_count, symbols_total=total, **settings
    )


def _columns(settings: ExchangeSnapshot) -> dict[str, Any]:
    # The snapshot's fields, symbols and id aside, are the exchange's columns of the same names.
    skip = {"symbols", "row_id"}
    return {f.name: getattr(settings, f.name) for f in fields(settings) if f.name not in skip}


def set_exchange_enabled(session: Session, name: str, enabled: bool) -> bool:
    """Enable or disable one exchange; True when it changed. Raises ValidationError if unknown.

    Works on a row whose other columns cannot be read: disabling is how an
    operator silences a bad row.
    """
    exchange = _get_exchange(session, name)
    if exchange.enabled is enabled:
        return False
    session.execute(
        update(Exchange)
        .where(Exchange.id == exchange.id)
        .values(enabled=enabled, updated_at=func.now())
    )
    return True


def remove_exchange(session: Session, name: str) -> int:
    """Delete one exchange and its symbols; returns how many symbols went with it."""
    exchange = _get_exchange(session, name)
    count = session.scalar(select(func.count()).where(Symbol.exchange_id == exchange.id)) or 0
    # Core deletes: the foreign key cascades, and no symbol rows are loaded into memory.
    session.execute(delete(Symbol).where(Symbol.exchange_id == exchange.id))
    session.execute(delete(Exchange).where(Exchange.id == exchange.id))
    return int(count)


def _exchange_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Exchange.id).where(Exchange.name == name))


@dataclass(frozen=True)
class _ExchangeKey:
    id: int
    enabled: object  # as stored: 2 or 'yes' on SQLite is neither enabled nor disabled


def _get_exchange(session: Session, name: str) -> _ExchangeKey:
    # Two columns only: loading the whole row would decode its JSON, which a row
    # written with plain SQL may not hold (and the operator is here to fix it).
    enabled = type_coerce(Exchange.enabled, NullType())
    found = session.execute(select(Exchange.id, enabled).where(Exchange.name == name)).first()
    if found is None:
        known = session.scalars(select(Exchange.name)).all()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = (
            f"did you mean {', '.join(close)}?" if close else "see `ticker-service exchanges list`"
        )
        raise ValidationError(f"no exchange named {name!r}: {hint}")
    return _ExchangeKey(id=found[0], enabled=_bool_or_raw(found[1]))


def _bool_or_raw(value: object) -> object:
    # SQLite's 1/0 as True/False; anything else as stored, so it never equals a bool.
    return value if isinstance(value, bool) or value not in (0, 1) else bool(value)


def _flush(session: Session, duplicate_message: str) -> None:
    # A concurrent writer can still win between our check and the insert. The
    # caller's session_scope rolls the transaction back.
    try:
        session.flush()
    except IntegrityError:
        raise ValidationError(duplicate_message) from None


# -- symbols --------------------------------------------------------------------


def add_symbols(
    session: Session,
    exchange: str,
    symbols: Iterable[str],
    *,
    enabled: bool = True,
    history: HistoryChoice = HistoryChoice(),
) -> list[str]:
    """Add symbols to one exchange (collecting ``history`` too) and return them; all or none.

    Raises ValidationError for an unknown exchange, a malformed symbol or one
    the exchange already has.
    """
    wanted = _valid_symbols(exchange, symbols)
    exchange_id = _get_exchange(session, exchange).id
    existing = _existing(session, exchange_id, wanted)
    if existing:
        raise ValidationError(f"exchange {exchange!r} already has {', '.join(sorted(existing))}")
    columns = history.columns()
    session.add_all(
        Symbol(exchange_id=exchange_id, symbol=s, enabled=enabled, **columns) for s in wanted
    )
    _flush(session, f"exchange {exchange!r} already has one of {', '.join(wanted)}")
    return wanted


def list_symbols(session: Session, exchange: str | None = None) -> list[SymbolRow]:
    """Symbols of one exchange (or all), ordered by exchange then symbol."""
    columns = (Symbol.symbol, Symbol.enabled, Symbol.trades, Symbol.candles, Symbol.history_since)
    query = select(Exchange.name, *columns).join(Symbol.exchange)
    if exchange is not None:
        query = query.where(Exchange.id == _get_exchange(session, exchange).id)
    rows = [SymbolRow(*row) for row in session.execute(query)]
    return sorted(rows, key=lambda row: (row.exchange, row.symbol))


def remove_symbols(session: Session, exchange: str, symbols: Iterable[str]) -> list[str]:
    """Delete symbols of one exchange and return them; raises ValidationError if any is absent."""
    exchange_id, wanted = _present(session, exchange, symbols)
    session.execute(
        delete(Symbol).where(Symbol.exchange_id == exchange_id, Symbol.symbol.in_(wanted))
    )
    return wanted


def set_symbols_enabled(
    session: Session, exchange: str, symbols: Iterable[str], enabled: bool
) -> list[str]:
    """Enable or disable symbols of one exchange; returns those that changed."""
    exchange_id, wanted = _present(session, exchange, symbols)
    changed = session.scalars(
        select(Symbol.symbol).where(
            Symbol.exchange_id == exchange_id,
            Symbol.symbol.in_(wanted),
            Symbol.enabled != enabled,
        )
    ).all()
    if changed:
        session.execute(
            update(Symbol)
            .where(Symbol.exchange_id == exchange_id, Symbol.symbol.in_(changed))
            .values(enabled=enabled, updated_at=func.now())
        )
    return sorted(changed)


def set_symbols_history(
    session: Session, exchange: str, symbols: Iterable[str], history: HistoryChoice
) -> list[str]:
    """Change what symbols of one exchange collect; returns those that changed.

    Raises ValidationError if nothing is asked or a symbol is absent.
    """
    columns = history.columns()
    if not columns:
        raise ValidationError(
            "nothing to set: give --trades/--no-trades, --candles/--no-candles or --since"
        )
    exchange_id, wanted = _present(session, exchange, symbols)
    differs = or_(*(getattr(Symbol, name).is_distinct_from(v) for name, v in columns.items()))
    mine = (Symbol.exchange_id == exchange_id, Symbol.symbol.in_(wanted))
    changed = session.scalars(select(Symbol.symbol).where(*mine, differs)).all()
    if changed:
        session.execute(
            update(Symbol)
            .where(Symbol.exchange_id == exchange_id, Symbol.symbol.in_(changed))
            .values(updated_at=func.now(), **columns)
        )
    return sorted(changed)


def _valid_symbols(exchange: str, symbols: Iterable[str]) -> list[str]:
    # Repeats on one command line are harmless: keep the first of each.
    wanted = list(dict.fromkeys(validate_symbol(s, exchange=exchange) for s in symbols))
    if not wanted:
        raise ValidationError("no symbols given")
    return wanted


def _existing(session: Session, exchange_id: int, symbols: list[str]) -> set[str]:
    query = select(Symbol.symbol).where(
        Symbol.exchange_id == exchange_id, Symbol.symbol.in_(symbols)
    )
    return set(session.scalars(query))


def _present(session: Session, exchange: str, symbols: Iterable[str]) -> tuple[int, list[str]]:
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        raise ValidationError("no symbols given")
    exchange_id = _get_exchange(session, exchange).id
    missing = set(wanted) - _existing(session, exchange_id, wanted)
    if missing:
        raise ValidationError(f"exchange {exchange!r} has no symbol {', '.join(sorted(missing))}")
    return exchange_id, wanted


# -- the beat's read --------------------------------------------------------------


def load_enabled(session: Session) -> LoadedRows:
    """Every enabled exchange with its enabled symbols, by name, and the rows skipped.

    Two queries in all. Rows are decoded one by one (``service.db.load``): a
    row that cannot be read is in ``skipped``, never failing the others. They
    are not validated: the beat's plan checks each and skips the bad ones.
    """
    return load_rows(session)
