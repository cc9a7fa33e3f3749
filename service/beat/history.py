"""The beat's history pass: every wanted stream's gaps -> ``fetch_history`` tasks.

Each pass loads what the symbol rows want (``load_wanted``), asks the ledger
for each stream's coverage from ``history_since`` up to the start of the
current minute, and plans (``service.history.plan``) at most
``HISTORY_TASKS_PER_EXCHANGE`` tasks in flight per exchange. A task is claimed
with its pending marker (``SET NX PX``) before it is enqueued, and the worker
releases the marker when it returns, so repeated passes (or two beats) never
queue a task twice; a worker that dies mid-task stops renewing it and the beat
plans the rest once it expires. Exchanges backed off after a 429/418, and
streams in retry backoff after a failed page, are planned nothing meanwhile.
With ``HISTORY_RETENTION_DAYS`` set, the pass first drops the trades older
than the cutoff (at most hourly) and plans trades from the cutoff on only
(``service.history.retention``), so dropped months are not fetched again.
Each pass also leaves a summary per stream in Redis (gap minutes, lag) for
``status`` and ``/metrics``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from service.errors import DatabaseError, StoreError
from service.history.budget import read_backoffs
from service.history.plan import HistoryTask, PlanLimits, horizon_ms, plan_tasks
from service.history.records import Coverage, Range, Wanted
from service.history.retention import Retention
from service.history.retry import held, read_retries
from service.history.summary import summarize, write_summaries
from service.keys import Keys
from service.logs import get_logger
from workers.redis_text import text

log = get_logger(__name__)

EnqueueHistory = Callable[[HistoryTask], None]
LoadWanted = Callable[[int], list[Wanted]]
ReadCoverage = Callable[[Wanted, Range], Coverage]
Failures = tuple[tuple[str, str], ...]  # (task id, error) of enqueues that raised


@dataclass(frozen=True)
class HistoryPass:
    """What one history pass saw and did."""

    streams: int
    enqueued: tuple[str, ...]
    failed: Failures = ()


@dataclass
class HistoryPlanner:
    """Plans and enqueues history tasks; one per beat."""

    client: redis.Redis
    keys: Keys
    load_wanted: LoadWanted
    coverage: ReadCoverage
    enqueue: EnqueueHistory
    limits: PlanLimits
    marker_ttl_s: float
    retention: Retention | None = None  # None: keep (and backfill) everything

    def run(self, now_ms: int) -> HistoryPass:
        """One pass at ``now_ms``. Raises DatabaseError, StoreError."""
        self._apply_retention(now_ms)
        wanted = self.load_wanted(now_ms)
        end = horizon_ms(now_ms)
        coverages = [self.coverage(w, Range(min(self._since(w, now_ms), end), end)) for w in wanted]
        write_summaries(self.client, self.keys, [summarize(c) for c in coverages])
        busy = self._busy()
        in_flight = Counter(task_id.split("|", 1)[0] for task_id in busy)
        tasks = plan_tasks(
            coverages,
            self.limits,
            busy=frozenset(busy),
            in_flight=in_flight,
            held=self._held(now_ms),
        )
        enqueued, failed = self._send(self._claim(tasks))
        return HistoryPass(len(wanted), enqueued, failed)

    def _since(self, wanted: Wanted, now_ms: int) -> int:
        if self.retention is None:
            return wanted.since_ms
        return self.retention.since_ms(wanted, now_ms)

    def _apply_retention(self, now_ms: int) -> None:
        if self.retention is None:
            return
        try:
            self.retention.apply(now_ms)
        except DatabaseError as exc:  # the backfill goes on; the next pass tries again
            log.warning("history retention failed", error=str(exc))

    def _busy(self) -> list[str]:
        head = self.keys.history_pending("")
        try:
            found = self.client.scan_iter(self.keys.history_pending_pattern(), count=1000)
            return [text(k)[len(head) :] for k in found]
        except redis.RedisError as exc:
            raise StoreError(f"reading history pending markers: {exc}") from exc

    def _held(self, now_ms: int) -> frozenset[str]:
        backoffs = {b.exchange for b in read_backoffs(self.client, self.keys)}
        return held(read_retries(self.client, self.keys), now_ms) | backoffs

    def _claim(self, tasks: Sequence[HistoryTask]) -> list[HistoryTask]:
        if not tasks:
            return []
        pipe = self.client.pipeline(transaction=False)
        for task in tasks:
            pipe.set(self.keys.history_pending(task.task_id), "1", nx=True, px=self._ttl_ms)
        try:
            claimed = pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"claiming {len(tasks)} history tasks: {exc}") from exc
        return [task for task, ok in zip(tasks, claimed, strict=True) if ok]

    @property
    def _ttl_ms(self) -> int:
        return int(self.marker_ttl_s * 1000)

    def _send(
        self, tasks: list[HistoryTask]
    ) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        enqueued: list[str] = []
        failed: list[tuple[str, str]] = []
        for task in tasks:
            try:
                self.enqueue(task)
            except Exception as exc:  # any broker error: unclaim, the next pass retries
                failed.append((task.task_id, f"{type(exc).__name__}: {exc}"))
                self._unclaim(task)
                continue
            enqueued.append(task.task_id)
        return tuple(enqueued), tuple(failed)

    def _unclaim(self, task: HistoryTask) -> None:
        try:
            self.client.delete(self.keys.history_pending(task.task_id))
        except redis.RedisError as exc:  # it expires on its own
            log.warning("history claim not removed", task=task.task_id, error=str(exc))


def task_args(task: HistoryTask) -> tuple[Any, ...]:
    """The ``fetch_history`` message's arguments for ``task`` (primitives only)."""
    key = task.key
    return (key.exchange, key.symbol, str(key.stream), task.range.start_ms, task.range.end_ms,
            task.task_id)  # fmt: skip
