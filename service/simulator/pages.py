"""One page of history as an exchange serves it at ``now_ms``: the truth cut at now.

Pure like ``history`` (``now_ms`` is an argument). Trades stamped after now are
not served; the minute holding now is served as an open kline of its trades so
far (``closed`` False), as exchanges do; every earlier minute is final. Ranges
are half-open ``[start_ms, end_ms)``; the protocols turn their own (inclusive or
exclusive) bounds into these. ``newest=True`` takes the last ``limit`` rows of
the range instead of the first (the rows stay in ascending order).
"""

from __future__ import annotations

from service.history.records import MINUTE_MS, Trade
from service.simulator.history import (
    EPOCH_MS,
    Kline,
    first_id_at,
    hour_klines,
    hours_of,
    partial_kline,
    trades_from_id,
)

PageKline = tuple[Kline, bool]  # the kline and whether it is closed


def kline_page(
    symbol: str, start_ms: int, end_ms: int, limit: int, now_ms: int, *, newest: bool = False
) -> list[PageKline]:
    """Up to ``limit`` 1m klines with an open time in ``[start_ms, end_ms)``, as at ``now_ms``."""
    current = now_ms - now_ms % MINUTE_MS
    start = max(start_ms, EPOCH_MS)
    closed = _closed_klines(symbol, start, min(end_ms, current), limit, newest)
    partial = None
    if start <= current < end_ms:
        partial = partial_kline(symbol, current, now_ms + 1)
    rows = [(k, True) for k in closed]
    if partial is not None:
        rows.append((partial, False))
    return rows[-limit:] if newest else rows[:limit]


def _closed_klines(symbol: str, start: int, end: int, limit: int, newest: bool) -> list[Kline]:
    hours = hours_of(start, end) if end > start else range(0)
    picked: list[Kline] = []
    for hour in reversed(hours) if newest else hours:
        rows = [k for k in hour_klines(symbol, hour) if start <= k.open_time < end]
        picked = rows + picked if newest else picked + rows
        if len(picked) >= limit:
            break
    return picked[-limit:] if newest else picked[:limit]


def trades_in(
    symbol: str, start_ms: int, end_ms: int, limit: int, now_ms: int, *, newest: bool = False
) -> list[Trade]:
    """Up to ``limit`` trades stamped in ``[start_ms, end_ms)`` served at ``now_ms``, by id."""
    first = first_id_at(symbol, start_ms)
    stop = first_id_at(symbol, min(end_ms, now_ms + 1))
    return _ids(symbol, first, stop, limit, newest)


def trades_by_id(
    symbol: str, from_id: int, stop_id: int | None, limit: int, now_ms: int, *, newest: bool = False
) -> list[Trade]:
    """Up to ``limit`` trades with ids in ``[from_id, stop_id)`` (no ``stop_id``: up to now)."""
    served = first_id_at(symbol, now_ms + 1)  # ids below this are stamped at or before now
    stop = served if stop_id is None else min(stop_id, served)
    return _ids(symbol, max(0, from_id), stop, limit, newest)


def _ids(symbol: str, first: int, stop: int, limit: int, newest: bool) -> list[Trade]:
    if stop <= first or limit <= 0:
        return []
    start = max(first, stop - limit) if newest else first
    return trades_from_id(symbol, start, min(limit, stop - start))
