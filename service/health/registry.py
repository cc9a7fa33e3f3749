"""The health registry in Redis: written on every heartbeat, read by status and HTTP.

``health_jobs``    job key -> latest heartbeat JSON, plus ``run_started_at`` and
                   ``recorded_at`` (ms) that the registry adds.
``health_workers`` worker id -> {worker_id, host, pid, jobs, last_seen_at, running,
                   capacity}.
``health_states``  job key -> last derived ``HealthState`` (up|stale|down|failed), the
                   memory behind transition alerts; only desired jobs have one.

``record_heartbeat`` reads, plans (a pure function) and writes in one
WATCH/MULTI transaction, so concurrent heartbeats of one worker never lose a
job from its record and a transition is logged by exactly one writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline

from service.errors import StoreError, ValidationError
from service.health.alerts import Transition, log_transition
from service.health.codec import decode, dumps
from service.health.derive import classify
from service.health.model import HealthState
from service.health.records import JobRecord, WorkerRecord
from service.keys import Keys
from service.settings import Settings
from workers.clock import now_ms as clock_ms
from workers.heartbeat import Heartbeat, HeartbeatError
from workers.redis_text import text
from workers.states import JobState


@dataclass(frozen=True)
class HeartbeatPlan:
    """What one heartbeat changes; ``state`` None means the job is not desired."""

    job_record: JobRecord | None
    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    old_state: HealthState | None = None
    state: HealthState | None = None
    reason: str = ""


def decode_heartbeat(data: Mapping[str, Any]) -> Heartbeat:
    """The heartbeat in ``data``; raises ValidationError when it cannot be used."""
    try:
        return Heartbeat.from_dict(data)
    except HeartbeatError as exc:
        raise ValidationError(str(exc)) from exc


def plan_heartbeat(
    heartbeat: Heartbeat,
    *,
    prev_job: JobRecord | None,
    workers: Mapping[str, WorkerRecord],
    old_state: HealthState | None,
    desired: bool,
    now_ms: int,
    settings: Settings,
) -> HeartbeatPlan:
    """Pure: the registry writes for one heartbeat.

    ``workers`` holds the stored records of the sending worker and of the
    job's previous holder. A heartbeat older than the stored one of the same
    worker is ignored (queues may reorder); a ``stopped`` heartbeat from a
    worker that no longer holds the job only updates that worker's record.
    """
    prev = prev_job.heartbeat if prev_job is not None else None
    same_worker = prev is not None and prev.worker_id == heartbeat.worker_id
    if same_worker and prev is not None and heartbeat.sent_at < prev.sent_at:
        return HeartbeatPlan(job_record=None, old_state=old_state, state=old_state)
    held_elsewhere = prev is not None and not same_worker and prev.state != JobState.STOPPED
    job_record = None
    if not (heartbeat.state == JobState.STOPPED and held_elsewhere):
        job_record = JobRecord(heartbeat, _run_started_at(heartbeat, prev_job), now_ms)
    held = heartbeat.state != JobState.STOPPED
    changed = {heartbeat.worker_id: _worker_record(heartbeat, workers, held=held)}
    # A job handed over leaves its previous holder's record. When the sender
    # held it already, its record is the one just built, not the stored one.
    handed_from = workers.get(prev.worker_id) if prev is not None and not same_worker else None
    if job_record is not None and handed_from is not None:
        changed[handed_from.worker_id] = handed_from.without_job(heartbeat.job_key)
    state, reason = classify(job_record or prev_job, now_ms, settings)
    return HeartbeatPlan(
        job_record=job_record,
        workers=changed,
        old_state=old_state,
        state=state if desired else None,
        reason=reason,
    )


def _run_started_at(heartbeat: Heartbeat, prev_job: JobRecord | None) -> int:
    # The same run keeps its start; a new worker, pid or a fresh start begins anew.
    if prev_job is None:
        return heartbeat.sent_at
    prev = prev_job.heartbeat
    same_run = (
        prev.worker_id == heartbeat.worker_id
        and prev.pid == heartbeat.pid
        and prev.state not in (JobState.STOPPED, JobState.FAILED)
        and not (heartbeat.state == JobState.STARTING and prev.state != JobState.STARTING)
    )
    return prev_job.run_started_at if same_run else heartbeat.sent_at


def _worker_record(
    heartbeat: Heartbeat, workers: Mapping[str, WorkerRecord], *, held: bool
) -> WorkerRecord:
    stored = workers.get(heartbeat.worker_id)
    jobs = set(stored.jobs) if stored is not None else set()
    if held:
        jobs.add(heartbeat.job_key)
    else:
        jobs.discard(heartbeat.job_key)
    last_seen = max(heartbeat.sent_at, stored.last_seen_at if stored is not None else 0)
    return WorkerRecord(
        worker_id=heartbeat.worker_id,
        host=heartbeat.host,
        pid=heartbeat.pid,
        jobs=tuple(sorted(jobs)),
        last_seen_at=last_seen,
        **_load(heartbeat, stored),
    )


def _load(heartbeat: Heartbeat, stored: WorkerRecord | None) -> dict[str, int | None]:
    """The process's running jobs and capacity: the heartbeat's unless it is older
    than what the record last saw (health workers may record heartbeats out of order)."""
    newer = stored is None or heartbeat.sent_at >= stored.last_seen_at
    if heartbeat.worker_capacity is not None and newer:
        return {"running": heartbeat.worker_jobs, "capacity": heartbeat.worker_capacity}
    if stored is None:
        return {"running": None, "capacity": None}
    return {"running": stored.running, "capacity": stored.capacity}


def record_heartbeat(
    client: redis.Redis,
    keys: Keys,
    heartbeat: Mapping[str, Any],
    *,
    settings: Settings,
    now_ms: int | None = None,
) -> HealthState | None:
    """Store one heartbeat (latest per job, per-worker record) and alert on a transition.

    ``heartbeat`` is a ``Heartbeat.to_dict()`` as the queue delivers it: it is
    decoded here, once. Returns the job's derived state, or None when the job
    is not desired. Raises ValidationError for a malformed heartbeat (retrying
    cannot help) and StoreError when Redis fails.
    """
    beat = decode_heartbeat(heartbeat)
    now = now_ms if now_ms is not None else clock_ms()
    watched = (keys.health_jobs(), keys.health_workers(), keys.health_states())

    plans: list[HeartbeatPlan] = []

    def apply(pipe: Pipeline) -> None:
        # Runs again from the top when a watched hash changed before EXEC.
        plans.append(_read_and_plan(pipe, keys, beat, now, settings))
        pipe.multi()
        _write_plan(pipe, keys, beat.job_key, plans[-1])

    try:
        client.transaction(apply, *watched)
    except redis.RedisError as exc:
        raise StoreError(f"recording heartbeat of {beat.job_key}: {exc}") from exc
    plan = plans[-1]
    if plan.state is not None and plan.state != plan.old_state:
        log_transition(Transition(beat.job_key, plan.old_state, plan.state, plan.reason))
    return plan.state


def _read_and_plan(
    pipe: Pipeline, keys: Keys, heartbeat: Heartbeat, now: int, settings: Settings
) -> HeartbeatPlan:
    # After WATCH the pipeline runs each command at once: these are plain reads.
    job_key, worker_id = heartbeat.job_key, heartbeat.worker_id
    prev_job = decode(pipe.hget(keys.health_jobs(), job_key), JobRecord.from_dict)
    worker_ids = {worker_id, prev_job.heartbeat.worker_id if prev_job else worker_id}
    workers = {
        w: r
        for w in worker_ids
        if (r := decode(pipe.hget(keys.health_workers(), w), WorkerRecord.from_dict))
    }
    return plan_heartbeat(
        heartbeat,
        prev_job=prev_job,
        workers=workers,
        old_state=HealthState.stored(text(pipe.hget(keys.health_states(), job_key))),
        desired=bool(pipe.hexists(keys.desired(), job_key)),
        now_ms=now,
        settings=settings,
    )


def _write_plan(pipe: Pipeline, keys: Keys, job_key: str, plan: HeartbeatPlan) -> None:
    if plan.job_record is not None:
        pipe.hset(keys.health_jobs(), job_key, dumps(plan.job_record.to_dict()))
    for worker_id, worker in plan.workers.items():
        pipe.hset(keys.health_workers(), worker_id, dumps(worker.to_dict()))
    if plan.state is None:
        pipe.hdel(keys.health_states(), job_key)
    elif plan.state != plan.old_state:
        pipe.hset(keys.health_states(), job_key, plan.state)
