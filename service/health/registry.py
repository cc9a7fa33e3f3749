"""The health registry in Redis: written on every heartbeat, read by status and HTTP.

``health_jobs``    job key -> latest heartbeat JSON, plus ``run_started_at`` and
                   ``recorded_at`` (ms) that the registry adds.
``health_workers`` worker id -> {worker_id, host, pid, jobs, last_seen_at}.
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
from service.health.codec import dumps, loads, text
from service.health.codec import now_ms as clock_ms
from service.health.derive import classify
from service.health.model import HealthState
from service.keys import Keys
from service.settings import Settings
from workers.heartbeat import STATES
from workers.states import JobState

Record = dict[str, Any]


@dataclass(frozen=True)
class HeartbeatPlan:
    """What one heartbeat changes; ``state`` None means the job is not desired."""

    job_record: Record | None
    workers: dict[str, Record] = field(default_factory=dict)
    old_state: HealthState | None = None
    state: HealthState | None = None
    reason: str = ""


def validate_heartbeat(heartbeat: Mapping[str, Any]) -> Record:
    """The heartbeat as a plain dict; raises ValidationError when it cannot be used."""
    for name in ("job_key", "worker_id"):
        if not isinstance(heartbeat.get(name), str) or not heartbeat[name]:
            raise ValidationError(f"heartbeat without {name}: {dict(heartbeat)!r:.200}")
    sent_at = heartbeat.get("sent_at")
    if not isinstance(sent_at, int) or isinstance(sent_at, bool):
        raise ValidationError(f"heartbeat of {heartbeat['job_key']} without sent_at (ms)")
    if heartbeat.get("state") not in STATES:
        raise ValidationError(f"heartbeat of {heartbeat['job_key']}: bad state")
    return dict(heartbeat)


def plan_heartbeat(
    heartbeat: Record,
    *,
    prev_job: Record | None,
    workers: Mapping[str, Record],
    old_state: HealthState | None,
    desired: bool,
    now_ms: int,
    settings: Settings,
) -> HeartbeatPlan:
    """Pure: the registry writes for one validated heartbeat.

    ``workers`` holds the stored records of the sending worker and of the
    job's previous holder. A heartbeat older than the stored one of the same
    worker is ignored (queues may reorder); a ``stopped`` heartbeat from a
    worker that no longer holds the job only updates that worker's record.
    """
    job_key, worker_id = heartbeat["job_key"], heartbeat["worker_id"]
    prev_worker = prev_job.get("worker_id") if prev_job else None
    prev_sent_at = int((prev_job or {}).get("sent_at") or 0)
    if prev_job and prev_worker == worker_id and heartbeat["sent_at"] < prev_sent_at:
        return HeartbeatPlan(job_record=None, old_state=old_state, state=old_state)
    handed_over = prev_job is not None and prev_worker != worker_id
    still_held_elsewhere = handed_over and (prev_job or {}).get("state") != JobState.STOPPED
    job_record = None
    if not (heartbeat["state"] == JobState.STOPPED and still_held_elsewhere):
        job_record = {**heartbeat, "run_started_at": _run_started_at(heartbeat, prev_job)}
        job_record["recorded_at"] = now_ms
    held = heartbeat["state"] != JobState.STOPPED
    changed = {worker_id: _worker_record(heartbeat, workers.get(worker_id), held=held)}
    if job_record is not None and isinstance(prev_worker, str) and prev_worker in workers:
        changed[prev_worker] = _without_job(workers[prev_worker], job_key)
    state, reason = classify(job_record or prev_job, now_ms, settings)
    return HeartbeatPlan(
        job_record=job_record,
        workers=changed,
        old_state=old_state,
        state=state if desired else None,
        reason=reason,
    )


def _run_started_at(heartbeat: Record, prev_job: Record | None) -> int:
    # The same run keeps its start; a new worker, pid or a fresh start begins anew.
    same_run = (
        prev_job is not None
        and prev_job.get("worker_id") == heartbeat["worker_id"]
        and prev_job.get("pid") == heartbeat.get("pid")
        and prev_job.get("state") not in (JobState.STOPPED, JobState.FAILED)
        and not (
            heartbeat["state"] == JobState.STARTING and prev_job.get("state") != JobState.STARTING
        )
    )
    if same_run and isinstance((prev_job or {}).get("run_started_at"), int):
        return int((prev_job or {})["run_started_at"])
    return int(heartbeat["sent_at"])


def _worker_record(heartbeat: Record, stored: Record | None, *, held: bool) -> Record:
    jobs = set((stored or {}).get("jobs") or ())
    if held:
        jobs.add(heartbeat["job_key"])
    else:
        jobs.discard(heartbeat["job_key"])
    last_seen = max(heartbeat["sent_at"], int((stored or {}).get("last_seen_at") or 0))
    return {
        "worker_id": heartbeat["worker_id"],
        "host": heartbeat.get("host"),
        "pid": heartbeat.get("pid"),
        "jobs": sorted(jobs),
        "last_seen_at": last_seen,
    }


def _without_job(stored: Record, job_key: str) -> Record:
    return {**stored, "jobs": sorted(set(stored.get("jobs") or ()) - {job_key})}


def record_heartbeat(
    client: redis.Redis,
    keys: Keys,
    heartbeat: Mapping[str, Any],
    *,
    settings: Settings,
    now_ms: int | None = None,
) -> str | None:
    """Store one heartbeat (latest per job, per-worker record) and alert on a transition.

    Returns the job's derived state, or None when the job is not desired.
    Raises ValidationError for a malformed heartbeat (retrying cannot help)
    and StoreError when Redis fails.
    """
    record = validate_heartbeat(heartbeat)
    now = now_ms if now_ms is not None else clock_ms()
    watched = (keys.health_jobs(), keys.health_workers(), keys.health_states())

    plans: list[HeartbeatPlan] = []

    def apply(pipe: Pipeline) -> None:
        # Runs again from the top when a watched hash changed before EXEC.
        plans.append(_read_and_plan(pipe, keys, record, now, settings))
        pipe.multi()
        _write_plan(pipe, keys, record["job_key"], plans[-1])

    try:
        client.transaction(apply, *watched)
    except redis.RedisError as exc:
        raise StoreError(f"recording heartbeat of {record['job_key']}: {exc}") from exc
    plan = plans[-1]
    if plan.state is not None and plan.state != plan.old_state:
        log_transition(Transition(record["job_key"], plan.old_state, plan.state, plan.reason))
    return plan.state


def _read_and_plan(
    pipe: Pipeline, keys: Keys, record: Record, now: int, settings: Settings
) -> HeartbeatPlan:
    # After WATCH the pipeline runs each command at once: these are plain reads.
    job_key, worker_id = record["job_key"], record["worker_id"]
    prev_job = loads(pipe.hget(keys.health_jobs(), job_key))
    worker_ids = {worker_id, (prev_job or {}).get("worker_id") or worker_id}
    workers = {w: r for w in worker_ids if (r := loads(pipe.hget(keys.health_workers(), w)))}
    return plan_heartbeat(
        record,
        prev_job=prev_job,
        workers=workers,
        old_state=HealthState.stored(text(pipe.hget(keys.health_states(), job_key))),
        desired=bool(pipe.hexists(keys.desired(), job_key)),
        now_ms=now,
        settings=settings,
    )


def _write_plan(pipe: Pipeline, keys: Keys, job_key: str, plan: HeartbeatPlan) -> None:
    if plan.job_record is not None:
        pipe.hset(keys.health_jobs(), job_key, dumps(plan.job_record))
    for worker_id, worker in plan.workers.items():
        pipe.hset(keys.health_workers(), worker_id, dumps(worker))
    if plan.state is None:
        pipe.hdel(keys.health_states(), job_key)
    elif plan.state != plan.old_state:
        pipe.hset(keys.health_states(), job_key, plan.state)
