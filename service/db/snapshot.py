"""What the beat reads from the database: plain frozen values, no session attached."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from service.db import validation
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
    Raises ValidationError naming the row.
    """
    name = validation.validate_name(snapshot.name)
    validation.validate_ccxt_id(snapshot.ccxt_id, exchange=name)
    validation.validate_mode(snapshot.mode, exchange=name, ccxt_id=snapshot.ccxt_id)
    poll_interval_s = validation.validate_poll_interval(snapshot.poll_interval_s, exchange=name)
    validation.validate_params(snapshot.ccxt_params, field=labels[0], exchange=name)
    validation.validate_params(snapshot.watch_params, field=labels[1], exchange=name)
    return replace(snapshot, poll_interval_s=poll_interval_s)
