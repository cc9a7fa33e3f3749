"""STAND-INS for the STORE and SIMULATOR helpers' code (issue 13), tests only.

``StandInStore`` plays ``service.history.store.HistoryStore`` (in memory) and
``StandInExchange`` plays a ccxt client over the simulator's history, so the
backfill can be tested before those branches land. Delete at merge: the real
store (SQLite and Postgres) and the simulator over real sockets replace them
(tests/test_history_backfill_e2e.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ccxt

from service.history.records import (
    MINUTE_MS,
    Candle,
    Coverage,
    Gap,
    GapReason,
    Range,
    Stream,
    StreamKey,
    Trade,
)

EPOCH_MS = 1_764_547_200_000  # 2025-12-01T00:00:00Z: trade id 0
TRADE_EVERY_MS = 7_000


def _trade(i: int) -> Trade:
    ts = EPOCH_MS + i * TRADE_EVERY_MS
    price = 100.0 + (i % 17) * 0.5
    return Trade(str(i), ts, price, 0.1 + (i % 3), "buy" if i % 2 else "sell")


def _quiet(ts: int) -> bool:
    return (ts // MINUTE_MS) % 5 == 3


def trades_truth(start_ms: int, end_ms: int) -> list[Trade]:
    """The stand-in exchange's trades in [start, end): ids stay dense (quiet minutes are
    simply times no id falls in: ids are renumbered over the kept trades)."""
    return [t for t in _kept(0, end_ms) if t.timestamp >= start_ms]


def _kept(_start: int, end_ms: int) -> list[Trade]:
    kept = []
    i = 0
    n = 0
    while EPOCH_MS + i * TRADE_EVERY_MS < end_ms:
        ts = EPOCH_MS + i * TRADE_EVERY_MS
        if not _quiet(ts):
            base = _trade(i)
            kept.append(Trade(str(n), ts, base.price, base.amount, base.side))
            n += 1
        i += 1
    return kept


def candles_truth(start_ms: int, end_ms: int) -> list[Candle]:
    """1m candles built from the trades; minutes without a trade have none."""
    by_minute: dict[int, list[Trade]] = {}
    for t in trades_truth(start_ms, end_ms):
        by_minute.setdefault(t.timestamp - t.timestamp % MINUTE_MS, []).append(t)
    return [
        Candle(m, ts[0].price, max(t.price for t in ts), min(t.price for t in ts), ts[-1].price,
               sum(t.amount for t in ts))
        for m, ts in sorted(by_minute.items())
    ]  # fmt: skip


class StandInExchange:
    """A ccxt-like client over the truth above; ``fail_every`` makes every Nth call raise."""

    def __init__(self, now_ms: int, *, fail_every: int = 0) -> None:
        self.now_ms = now_ms
        self.fail_every = fail_every
        self.calls = 0
        self._all = _kept(0, now_ms)

    def _call(self) -> None:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise ccxt.ExchangeNotAvailable("stand-in 503 Service Unavailable")

    def fetch_trades(self, symbol: str, since: int | None, limit: int, params: dict[str, Any]):
        self._call()
        if "fromId" in params:
            start = int(params["fromId"])
            return [_raw_trade(t) for t in self._all[start : start + limit]]
        until = params.get("until", self.now_ms)
        assert since is not None
        hits = [t for t in self._all if since <= t.timestamp <= until]
        return [_raw_trade(t) for t in hits[:limit]]

    def fetch_ohlcv(self, symbol: str, tf: str, since: int, limit: int, params: dict[str, Any]):
        self._call()
        until = params.get("until", self.now_ms)
        # Only closed minutes, as an exchange's history endpoint.
        candles = candles_truth(since, min(until + 1, self.now_ms - self.now_ms % MINUTE_MS))
        return [[c.open_time, c.open, c.high, c.low, c.close, c.volume] for c in candles][:limit]


def _raw_trade(t: Trade) -> dict[str, Any]:
    return {"id": t.id, "timestamp": t.timestamp, "price": t.price, "amount": t.amount,
            "side": t.side}  # fmt: skip


class StandInStore:
    """In-memory HistoryStore stand-in: idempotent rows and a ledger of complete ranges."""

    def __init__(self) -> None:
        self.rows: dict[StreamKey, dict[Any, Candle | Trade]] = {}
        self.complete: dict[StreamKey, list[Range]] = {}
        self.failed: dict[StreamKey, list[Gap]] = {}
        self.writes = 0

    def write_page(self, key: StreamKey, rows: Sequence[Candle] | Sequence[Trade],
                   covered: Range) -> int:  # fmt: skip
        table = self.rows.setdefault(key, {})
        new = 0
        for row in rows:
            ident = row.open_time if isinstance(row, Candle) else row.id
            if ident not in table:
                table[ident] = row
                new += 1
        self.complete.setdefault(key, []).append(covered)
        self.writes += 1
        return new

    def record_gap(self, key: StreamKey, gap: Gap) -> None:
        self.failed.setdefault(key, []).append(gap)

    def coverage(self, key: StreamKey, wanted: Range) -> Coverage:
        done = _merge([r for r in self.complete.get(key, []) if not r.empty])
        gaps, at = [], wanted.start_ms
        for r in done:
            if r.end_ms <= at or r.start_ms >= wanted.end_ms:
                continue
            if r.start_ms > at:
                gaps.append(Gap(Range(at, r.start_ms), self._reason(key, at)))
            at = max(at, r.end_ms)
        if at < wanted.end_ms:
            gaps.append(Gap(Range(at, wanted.end_ms), self._reason(key, at)))
        return Coverage(key, wanted, tuple(done), tuple(gaps), None)

    def _reason(self, key: StreamKey, at: int) -> GapReason:
        failed = any(g.range.start_ms <= at < g.range.end_ms for g in self.failed.get(key, []))
        return GapReason.FETCH_FAILED if failed else GapReason.NOT_FETCHED

    def stored(self, key: StreamKey) -> list[Any]:
        rows = list(self.rows.get(key, {}).values())
        if key.stream == Stream.CANDLES:
            return sorted(rows, key=lambda c: c.open_time)
        return sorted(rows, key=lambda t: int(t.id))


def _merge(ranges: list[Range]) -> list[Range]:
    merged: list[Range] = []
    for r in sorted(ranges):
        if merged and r.start_ms <= merged[-1].end_ms:
            merged[-1] = Range(merged[-1].start_ms, max(merged[-1].end_ms, r.end_ms))
        else:
            merged.append(r)
    return merged
