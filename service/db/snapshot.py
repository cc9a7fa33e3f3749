"""What the beat reads from the database: plain frozen values, no session attached."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from service.db import validation
from service.db.skipped import SkippedRow
from service.errors import ValidationError

# How the two params fields are named in messages: the columns (rows read by the beat).
COLUMN_LABELS = ("ccxt_params", "watch_params")


@dataclass(frozen=True)
class ExchangeSnapshot:
    """One enabled exchange with its enabled symbols (sorted)."""

    name: str
    ccxt_id: str
    ccxt_params: dict[str, Any] = field(default_factory=dict)
    mode: str = "auto"
    poll_interval_s: float = 2.0
    watch_params: dict[str, Any] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()
    # The row's primary key when read from the database: names a row whose name is
    # blank in a skipped-row report. Not part of what is streamed, so not compared.
    row_id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class SymbolHistory:
    """What one enabled symbols row collects besides tickers (``since_ms`` None: the default)."""

    exchange: str
    symbol: str
    trades: bool
    candles: bool
    since_ms: int | None


@dataclass(frozen=True)
class LoadedRows:
    """The enabled exchanges that could be read (with their enabled symbols) and the rest.

    Iterates over ``exchanges``, so it stands wherever a list of snapshots did.
    """

    exchanges: tuple[ExchangeSnapshot, ...]
    skipped: tuple[SkippedRow, ...] = ()
    # The enabled symbols that collect trades or candles (service.history.wanted).
    history: tuple[SymbolHistory, ...] = ()

    def __iter__(self) -> Iterator[ExchangeSnapshot]:
        return iter(self.exchanges)

    def __len__(self) -> int:
        return len(self.exchanges)


@dataclass(frozen=True)
class SnapshotCheck:
    """``snapshot`` is None when the exchange row itself is bad; ``problems`` says why."""

    snapshot: ExchangeSnapshot | None
    problems: tuple[str, ...]


def check_snapshot(snapshot: ExchangeSnapshot) -> SnapshotCheck:
    """Validate one exchange and its symbols: bad symbols are dropped, a bad exchange is None.

    Every problem is a message naming the row, ready to be logged and reported.
    """
    try:
        check_exchange(snapshot)
    except ValidationError as exc:
        return SnapshotCheck(None, (str(exc),))
    good: list[str] = []
    problems: list[str] = []
    for symbol in snapshot.symbols:
        try:
            good.append(validation.validate_symbol(symbol, exchange=snapshot.name))
        except ValidationError as exc:
            problems.append(str(exc))
    return SnapshotCheck(replace(snapshot, symbols=tuple(good)), tuple(problems))


def check_exchange(
    snapshot: ExchangeSnapshot, *, labels: tuple[str, str] = COLUMN_LABELS
) -> ExchangeSnapshot:
    """The exchange's own fields checked (symbols aside), the poll interval as a float.

    The one set of exchange checks, for rows the beat reads and for what an
    operator adds; ``labels`` name the ccxt and watch params in messages.
    Raises ValidationError naming the row (a ``ColumnError``: it knows the column).
    """
    column = validation.column
    with column("name"):
        name = validation.validate_name(snapshot.name)
    with column("ccxt_id"):
        validation.validate_ccxt_id(snapshot.ccxt_id, exchange=name)
    with column("mode"):
        validation.validate_mode(snapshot.mode, exchange=name, ccxt_id=snapshot.ccxt_id)
    with column("poll_interval_s"):
        poll_interval_s = validation.validate_poll_interval(snapshot.poll_interval_s, exchange=name)
    for field_name, label in zip(COLUMN_LABELS, labels, strict=True):
        with column(field_name):
            validation.validate_params(getattr(snapshot, field_name), field=label, exchange=name)
    return replace(snapshot, poll_interval_s=poll_interval_s)
