"""Planning the backfill: the gaps of every wanted stream -> a bounded set of finite tasks.

Pure: no Redis, no database, no clock (``now_ms`` is passed in). The beat loads
the ledger's coverage, calls ``plan_tasks`` and enqueues what it returns.

A gap is cut on a fixed grid of ``chunk_ms`` (aligned to the epoch), and a task
is one gap inside one chunk. The chunk start names the task (its pending
marker), so a task that finished part of its chunk and returned is planned
again under the same name for the rest: two passes never queue the same work
twice, and two tasks never fetch the same range.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from service.history.records import MINUTE_MS, Coverage, Range, Stream, StreamKey


@dataclass(frozen=True)
class HistoryTask:
    """One finite unit of backfill: fetch ``range`` of ``key`` (inside chunk ``chunk_ms``)."""

    key: StreamKey
    range: Range
    chunk_ms: int

    @property
    def task_id(self) -> str:
        """Stable across passes while the chunk still has a gap: the pending marker's name."""
        return f"{self.key.exchange}|{self.key.symbol}|{self.key.stream}|{self.chunk_ms}"


@dataclass(frozen=True)
class PlanLimits:
    """How the plan bounds its output."""

    max_in_flight: int  # tasks per exchange queued or running at once
    candles_chunk_ms: int = 1000 * MINUTE_MS * 4  # four full pages of 1000 1m candles
    trades_chunk_ms: int = 60 * MINUTE_MS  # Binance answers aggTrades by time within an hour

    def chunk_ms(self, stream: Stream) -> int:
        return self.candles_chunk_ms if stream == Stream.CANDLES else self.trades_chunk_ms


def horizon_ms(now_ms: int) -> int:
    """Where a backfill stops: the start of the current minute (its candle is still open)."""
    return now_ms - now_ms % MINUTE_MS


def chunks(gap: Range, chunk_ms: int) -> list[tuple[int, Range]]:
    """``gap`` cut on the epoch-aligned grid of ``chunk_ms``: (chunk start, part) pairs."""
    parts: list[tuple[int, Range]] = []
    start = gap.start_ms
    while start < gap.end_ms:
        chunk = start - start % chunk_ms
        end = min(gap.end_ms, chunk + chunk_ms)
        parts.append((chunk, Range(start, end)))
        start = end
    return parts


def stream_tasks(coverage: Coverage, limits: PlanLimits) -> list[HistoryTask]:
    """Every task of one stream, oldest first, one per (gap, chunk)."""
    chunk_ms = limits.chunk_ms(coverage.key.stream)
    return [
        HistoryTask(coverage.key, part, chunk)
        for gap in coverage.gaps
        for chunk, part in chunks(gap.range, chunk_ms)
    ]


def plan_tasks(
    coverages: Iterable[Coverage],
    limits: PlanLimits,
    *,
    busy: frozenset[str] = frozenset(),
    in_flight: Mapping[str, int] | None = None,
    held: frozenset[str] = frozenset(),
) -> list[HistoryTask]:
    """The tasks to enqueue now, at most ``max_in_flight`` per exchange in all.

    ``busy``: task ids already queued or running (pending markers), never planned
    again; ``in_flight``: how many such tasks each exchange has; ``held``: exchanges
    or streams (``str(key)``) in backoff, planned nothing. Streams take turns: the
    oldest task of every stream first, then the second of each, so one long
    backfill does not hold back the other symbols of its exchange.
    """
    room: dict[str, int] = {}
    counts = dict(in_flight or {})
    per_stream: list[list[HistoryTask]] = []
    for coverage in sorted(coverages, key=lambda c: c.key):
        key = coverage.key
        if key.exchange in held or str(key) in held:
            continue
        tasks = [t for t in stream_tasks(coverage, limits) if t.task_id not in busy]
        per_stream.append(tasks)
        room.setdefault(key.exchange, limits.max_in_flight - counts.get(key.exchange, 0))
    planned: list[HistoryTask] = []
    for task in _round_robin(per_stream):
        if room[task.key.exchange] > 0:
            room[task.key.exchange] -= 1
            planned.append(task)
    return planned


def _round_robin(lists: list[list[HistoryTask]]) -> Iterable[HistoryTask]:
    depth = max((len(tasks) for tasks in lists), default=0)
    for i in range(depth):
        for tasks in lists:
            if i < len(tasks):
                yield tasks[i]
