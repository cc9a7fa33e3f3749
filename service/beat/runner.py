"""The beat's passes as the scheduler calls them: lock-gated, timed, never raising.

Each pass runs only while this beat holds the beat lock, catches every error
(a database or Redis outage must not stop the process: the next tick
retries), logs one line and records a ``PassStatus`` in ``beat_status``.

The beat remembers the whole desired state its last reconcile left. Every pass
first checks the desired-state marker: when it is gone (Redis restarted empty)
the beat writes that state back at once, without the database, and holds off
enqueueing those jobs for a lease ttl so the ones still streaming take their
leases back first; the pass's own supervision then re-creates whatever else
was lost (queued messages, pending markers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from service.beat.history import HistoryPass, HistoryPlanner
from service.beat.lock import BeatLock
from service.beat.reconcile import Load, ReconcileOptions, Reconciliation, reconcile
from service.beat.status import PassKind, PassOutcome, PassStatus, write_status
from service.beat.supervise import Enqueue, Supervision, hold_off, supervise
from service.db.skipped import SkippedRow
from service.desired import DesiredState
from service.errors import DatabaseError, StoreError, TickerServiceError
from service.keys import Keys
from service.logs import get_logger, redact_text
from workers.clock import now_ms
from workers.spec import JobSpec

log = get_logger(__name__)


@dataclass(frozen=True)
class _Outcome:
    jobs: int
    enqueued: int
    error: str | None = None
    skipped_rows: tuple[SkippedRow, ...] = ()


class Beat:
    """Runs reconcile and supervision passes for one beat process (id ``beat_id``)."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        load: Load,
        enqueue: Enqueue,
        options: ReconcileOptions,
        beat_id: str,
        lock: BeatLock | None = None,
        history: HistoryPlanner | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.desired = DesiredState(client, keys)
        self.load = load
        self.enqueue = enqueue
        self.options = options
        self.beat_id = beat_id
        self.lock = lock
        self.history = history
        self.active = lock is None
        # Set when this beat becomes the active one: the next supervision pass
        # reconciles instead, so a standby that takes over reads the database
        # within seconds, not at its next 5-minute reconcile. (A flag, not a call
        # into the scheduler: APScheduler deadlocks when a job touches it while
        # it shuts down.)
        self.reconcile_due = False
        self._reconciling = threading.Lock()
        # The desired state the last reconcile left: what to restore if Redis loses it.
        self.last_desired: dict[str, JobSpec] | None = None

    def lock_tick(self) -> bool:
        """Take or renew the beat lock; returns whether this beat is active."""
        if self.lock is None:
            return True
        was_active = self.active
        try:
            self.active = self.lock.hold()
            if not self.active:
                # Another beat leads: its writes supersede what this one remembers.
                self.last_desired = None
        except StoreError as exc:  # Redis away: the memory is what restores it after
            self.active = False
            log.warning("beat lock failed", beat_id=self.beat_id, error=str(exc))
        if self.active and not was_active:
            log.info("beat active", beat_id=self.beat_id)
            self.reconcile_due = True
        elif was_active and not self.active:
            log.warning("beat standby", beat_id=self.beat_id, reason="lock lost")
        return self.active

    def reconcile_pass(self) -> PassStatus | None:
        """One reconcile if active: its recorded status, or None when on standby.

        None too when another reconcile of this beat is still running.
        """
        if not self._reconciling.acquire(blocking=False):
            return None
        try:
            return self._run(PassKind.RECONCILE, self._reconcile)
        finally:
            self._reconciling.release()

    def supervise_pass(self) -> PassStatus | None:
        """One supervision pass (a reconcile when one is due) if active, else None."""
        if self.reconcile_due:
            status = self.reconcile_pass()
            if status is not None:
                return status
        return self._run(PassKind.SUPERVISE, self._supervise)

    def history_pass(self) -> PassStatus | None:
        """One history planning pass if active (and history is planned here), else None."""
        if self.history is None:
            return None
        return self._run(PassKind.HISTORY, self._plan_history)

    def _plan_history(self) -> _Outcome:
        assert self.history is not None
        done = self.history.run(now_ms())
        return _Outcome(jobs=done.streams, enqueued=len(done.enqueued), error=_history_error(done))

    def _reconcile(self) -> _Outcome:
        self.reconcile_due = False  # a failed one is retried at the regular interval
        self._restore_if_lost()  # before planning against what may be an empty Redis
        done = reconcile(self.load, self.desired, self.enqueue, self.options)
        self.last_desired = done.desired
        _log_reconcile(done)
        return _Outcome(
            jobs=done.plan.jobs,
            enqueued=len(done.supervision.enqueued),
            error=_enqueue_error(done.supervision),
            skipped_rows=tuple(done.plan.skipped),
        )

    def _supervise(self) -> _Outcome:
        # A reconcile in progress writes the whole state itself if the marker is gone;
        # restoring older memory beside it could overwrite what it just wrote.
        if self._reconciling.acquire(blocking=False):
            try:
                self._restore_if_lost()
            finally:
                self._reconciling.release()
        done = supervise(
            self.client, self.keys, self.enqueue, pending_ttl_s=self.options.pending_ttl_s
        )
        return _Outcome(jobs=done.jobs, enqueued=len(done.enqueued), error=_enqueue_error(done))

    def _restore_if_lost(self) -> None:
        """Write the remembered desired state back if its marker is gone. Raises StoreError."""
        specs = self.last_desired
        if specs is None or self.desired.present():
            return
        # Pending markers first: no pass may enqueue before the streaming jobs re-lease.
        hold_off(self.client, self.keys, sorted(specs), self.options.restore_hold_off_s)
        if self.desired.restore(specs):
            log.warning("desired state lost, restored", jobs=len(specs), beat_id=self.beat_id)

    def _run(self, kind: PassKind, body: Callable[[], _Outcome]) -> PassStatus | None:
        if not self._still_active():
            log.debug("beat standby, pass skipped", kind=kind, beat_id=self.beat_id)
            return None
        at_ms = now_ms()
        started = time.perf_counter()
        try:
            outcome = body()
        except Exception as exc:
            outcome = _Outcome(jobs=0, enqueued=0, error=_describe(exc))
            if not isinstance(exc, TickerServiceError | redis.RedisError):
                log.exception("beat pass crashed", kind=kind)
        status = PassStatus(
            kind=kind,
            at=at_ms,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            outcome=PassOutcome.ERROR if outcome.error else PassOutcome.OK,
            beat_id=self.beat_id,
            jobs=outcome.jobs,
            enqueued=outcome.enqueued,
            error=outcome.error,
            skipped_rows=outcome.skipped_rows,
        )
        self._record(status)
        return status

    def _still_active(self) -> bool:
        """Renew the lock before a pass; a beat that lost it does nothing."""
        if self.lock is None or not self.active:
            return self.active
        return self.lock_tick()

    def _record(self, status: PassStatus) -> None:
        fields = {
            "kind": status.kind,
            "outcome": status.outcome,
            "jobs": status.jobs,
            "enqueued": status.enqueued,
            "duration_ms": status.duration_ms,
        }
        if status.error:
            log.error("beat pass failed", **fields, error=status.error)
        elif status.kind == PassKind.RECONCILE or status.enqueued:
            log.info("beat pass", **fields, skipped=len(status.skipped_rows))
        else:
            log.debug("beat pass", **fields)  # a quiet supervision pass: nothing to say
        try:
            write_status(self.client, self.keys, status)
        except StoreError as exc:
            log.warning("beat status not written", kind=status.kind, error=str(exc))


def _log_reconcile(done: Reconciliation) -> None:
    for row in done.plan.skipped:
        # One line per row, naming it enough to fix it; the error quotes no params value.
        log.warning(
            "row skipped",
            table=row.table,
            row=row.name,
            exchange=row.exchange,
            column=row.column,
            error=row.error,
            id=row.id,
        )
    if not done.plan.empty:
        log.info(
            "beat desired changed",
            put=[spec.job_key for spec in done.plan.put][:20],
            put_count=len(done.plan.put),
            removed=list(done.plan.remove)[:20],
            removed_count=len(done.plan.remove),
        )


def _enqueue_error(done: Supervision) -> str | None:
    if not done.failed:
        return None
    job_key, error = done.failed[0]
    return f"enqueue failed for {len(done.failed)} job(s), first {job_key}: {error}"


def _history_error(done: HistoryPass) -> str | None:
    if not done.failed:
        return None
    task_id, error = done.failed[0]
    return f"enqueue failed for {len(done.failed)} history task(s), first {task_id}: {error}"


def _describe(exc: Exception) -> str:
    """One line for logs and beat_status: our errors already carry context, none a password."""
    if isinstance(exc, DatabaseError | StoreError):
        return redact_text(str(exc))
    return redact_text(f"{type(exc).__name__}: {exc}")
