"""The beat's pure plan: which JobSpecs to write and which job keys to drop.

No I/O (neither redis nor sqlalchemy is imported): the input is the enabled
exchanges read from the database and the specs already in the desired state;
the output says what to change. Bad rows are reported and skipped, never
stopping the others: a bad symbol skips that symbol, a bad exchange row skips
that exchange (and its running jobs are then removed like an absent one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from service.beat.shards import SHARD_SEPARATOR, assign
from service.db.skipped import SkippedRow, Table
from service.db.snapshot import ExchangeSnapshot, LoadedRows
from service.db.validation import ColumnError
from service.errors import ValidationError
from workers.spec import MODES, JobSpec


class SymbolCheck(Protocol):
    """Raises ValidationError (or ValueError) when ``symbol`` of ``exchange`` is bad."""

    def __call__(self, symbol: str, /, *, exchange: str) -> object: ...


# Raises ValidationError (or ValueError) when the exchange row itself is bad.
ExchangeCheck = Callable[[ExchangeSnapshot], object]


__all__ = ["ExchangeCheck", "Plan", "SkippedRow", "SymbolCheck", "plan"]


@dataclass(frozen=True)
class Plan:
    """What to change: specs to write (new or changed content), job keys to drop."""

    put: tuple[JobSpec, ...]
    remove: tuple[str, ...]
    skipped: tuple[SkippedRow, ...]
    jobs: int  # job keys desired once the plan is applied

    @property
    def empty(self) -> bool:
        return not self.put and not self.remove


def _accept_row(_row: ExchangeSnapshot) -> None:
    return None


def _accept_symbol(symbol: str, /, *, exchange: str) -> None:
    return None


def plan(
    desired: Iterable[ExchangeSnapshot],
    running: Mapping[str, JobSpec],
    *,
    shard_size: int,
    allow: frozenset[str] | None = None,
    check_exchange: ExchangeCheck = _accept_row,
    check_symbol: SymbolCheck = _accept_symbol,
) -> Plan:
    """Compare the enabled exchanges with the running specs; return the Plan.

    ``allow`` (TICKER_DAEMON_EXCHANGES) keeps only the named exchanges. Rows
    the load could not read (``LoadedRows.skipped``) are reported first (those
    of allowed exchanges, when ``allow`` is set).
    ``check_exchange(row)`` and ``check_symbol(symbol, exchange=name)`` raise
    ValidationError (or ValueError) on a bad row; the reconcile passes the
    database's own (``service.db.snapshot.check_exchange`` and
    ``service.db.validation.validate_symbol``). A few checks the specs depend on
    (name without '#', mode, poll interval, params objects) always run.
    Specs in ``put`` carry generation 0: the desired state assigns it.
    """
    wanted: dict[str, JobSpec] = {}
    unread = desired.skipped if isinstance(desired, LoadedRows) else ()
    skipped = [row for row in unread if allow is None or row.exchange in allow]
    for row in desired:
        if allow is not None and row.name not in allow:
            continue
        specs = _specs_for(row, running, shard_size, check_exchange, check_symbol, skipped)
        if any(spec.job_key in wanted for spec in specs):
            skipped.append(_skipped(row, ColumnError("duplicate exchange name", column="name")))
            continue
        wanted.update((spec.job_key, spec) for spec in specs)
    put = tuple(
        spec
        for key, spec in sorted(wanted.items())
        if key not in running or not running[key].same_content(spec)
    )
    remove = tuple(sorted(set(running) - set(wanted)))
    return Plan(put=put, remove=remove, skipped=tuple(skipped), jobs=len(wanted))


def _specs_for(
    row: ExchangeSnapshot,
    running: Mapping[str, JobSpec],
    shard_size: int,
    check_exchange: ExchangeCheck,
    check_symbol: SymbolCheck,
    skipped: list[SkippedRow],
) -> list[JobSpec]:
    """The JobSpecs of one exchange row; [] when the row is bad or has no good symbol."""
    try:
        check_exchange(row)  # first: the database's checks word it best
        _check_shape(row)
    except (ValidationError, ValueError, TypeError) as exc:
        skipped.append(_skipped(row, exc))
        return []
    symbols = _good_symbols(row, check_symbol, skipped)
    if not symbols:
        # Nothing to stream: no job (it would hold a client and sockets for nothing).
        return []
    return [
        JobSpec(
            job_key=key,
            exchange=row.name,
            ccxt_id=row.ccxt_id,
            symbols=held,
            ccxt_params=dict(row.ccxt_params or {}),
            mode=row.mode,
            poll_interval_s=float(row.poll_interval_s),
            watch_params=dict(row.watch_params or {}),
        )
        for key, held in assign(row.name, symbols, running, shard_size).items()
    ]


def _skipped(row: ExchangeSnapshot, exc: Exception) -> SkippedRow:
    column = exc.column if isinstance(exc, ColumnError) else ""
    return SkippedRow.of(
        Table.EXCHANGES, row.name, column, str(exc), exchange=row.name, row_id=row.row_id
    )


def _check_shape(row: ExchangeSnapshot) -> None:
    """What building a JobSpec needs, whatever validators were injected."""
    if not row.name or SHARD_SEPARATOR in row.name:
        raise ColumnError(
            f"exchange name {row.name!r}: must be non-empty, without '#'", column="name"
        )
    if row.mode not in MODES:
        raise ColumnError(f"mode {row.mode!r}: expected one of {', '.join(MODES)}", column="mode")
    if not float(row.poll_interval_s) > 0:
        raise ColumnError(
            f"poll_interval_s {row.poll_interval_s!r}: expected above 0", column="poll_interval_s"
        )
    for field in ("ccxt_params", "watch_params"):
        value = getattr(row, field)
        if value is not None and not isinstance(value, dict):
            raise ColumnError(
                f"{field}: expected a JSON object, got {type(value).__name__}", column=field
            )


def _good_symbols(
    row: ExchangeSnapshot, check_symbol: SymbolCheck, skipped: list[SkippedRow]
) -> list[str]:
    """The row's valid symbols, sorted and unique; each bad one is reported."""
    good: set[str] = set()
    for symbol in row.symbols:
        try:
            check_symbol(symbol, exchange=row.name)
        except (ValidationError, ValueError, TypeError) as exc:
            skipped.append(
                SkippedRow.of(Table.SYMBOLS, symbol, "symbol", str(exc), exchange=row.name)
            )
            continue
        good.add(symbol)
    return sorted(good)
