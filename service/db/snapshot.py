"""What the beat reads from the database: plain frozen values, no session attached."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from service.db.validation import (
    validate_ccxt_id,
    validate_mode,
    validate_name,
    validate_params,
    validate_poll_interval,
    validate_symbol,
)
from service.errors import ValidationError


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
        _check_exchange(snapshot)
    except ValidationError as exc:
        return SnapshotCheck(None, (str(exc),))
    good: list[str] = []
    problems: list[str] = []
    for symbol in snapshot.symbols:
        try:
            good.append(validate_symbol(symbol, exchange=snapshot.name))
        except ValidationError as exc:
            problems.append(str(exc))
    return SnapshotCheck(replace(snapshot, symbols=tuple(good)), tuple(problems))


def _check_exchange(snapshot: ExchangeSnapshot) -> None:
    name = validate_name(snapshot.name)
    validate_ccxt_id(snapshot.ccxt_id, exchange=name)
    validate_mode(snapshot.mode, exchange=name, ccxt_id=snapshot.ccxt_id)
    validate_poll_interval(snapshot.poll_interval_s, exchange=name)
    validate_params(snapshot.ccxt_params, field="ccxt_params", exchange=name)
    validate_params(snapshot.watch_params, field="watch_params", exchange=name)
