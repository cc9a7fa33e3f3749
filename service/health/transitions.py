"""The periodic health check: finds jobs that went down without saying so.

``record_heartbeat`` sees transitions when a heartbeat arrives; a job whose
heartbeats stop needs someone to look at the clock. ``check_transitions`` is
that someone: the beat's supervision pass and the web process call it. It is
idempotent and safe to run in several processes at once: each state change is
a compare-and-set in Lua, guarded by both the old state and the exact stored
heartbeat it was derived from, so only the winner logs the transition and a
heartbeat that arrived meanwhile is never overruled by an older view.
"""

from __future__ import annotations

import redis
from redis.commands.core import Script

from service.errors import StoreError
from service.health.alerts import Transition, log_transition
from service.health.derive import age_s, classify, heartbeat_limit_s
from service.health.model import HealthState
from service.health.snapshot import Snapshot, load_snapshot
from service.keys import Keys
from service.settings import Settings
from workers.clock import now_ms

# Records of undesired jobs and of workers not heard from for this long are removed.
FORGET_AFTER_S = 600.0

# KEYS[1] health_states, KEYS[2] health_jobs. ARGV: job key, expected state,
# new state ('' deletes), expected job record. '' stands for "absent".
_SWAP_STATE = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
local record = redis.call('HGET', KEYS[2], ARGV[1]) or ''
if record ~= ARGV[4] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
end
return 1
"""

# KEYS[1] a hash. ARGV: field, the exact value it must still hold.
_DELETE_IF_UNCHANGED = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""


def check_transitions(
    client: redis.Redis, keys: Keys, settings: Settings, now: int | None = None
) -> list[Transition]:
    """Derive every desired job's state at ``now`` (ms) and record what changed.

    Logs each transition it won (warning when a job turns stale, down or
    failed; info when it is up again) and returns them. Also forgets the
    states of jobs no longer desired, and the records of undesired jobs and
    workers silent for FORGET_AFTER_S. Raises StoreError when Redis fails.
    """
    at = now if now is not None else now_ms()
    snap = load_snapshot(client, keys)
    swap = client.register_script(_SWAP_STATE)
    won: list[Transition] = []
    try:
        for job_key in sorted(snap.desired):
            state, reason = classify(snap.jobs.get(job_key), at, settings)
            if state != snap.states.get(job_key) and _swap(swap, keys, snap, job_key, state):
                old = HealthState.stored(snap.states.get(job_key))
                won.append(Transition(job_key, old, state, reason))
        for job_key in sorted(set(snap.states) - set(snap.desired)):
            _swap(swap, keys, snap, job_key, "")
        _forget_silent(client, keys, snap, at, settings)
    except redis.RedisError as exc:
        raise StoreError(f"checking health transitions: {exc}") from exc
    for transition in won:
        log_transition(transition)
    return won


def _swap(swap: Script, keys: Keys, snap: Snapshot, job: str, new: str) -> bool:
    args: list[str | bytes] = [job, snap.states.get(job, ""), new, snap.jobs_raw.get(job, b"")]
    return bool(swap(keys=[keys.health_states(), keys.health_jobs()], args=args))


def _forget_silent(
    client: redis.Redis, keys: Keys, snap: Snapshot, at: int, settings: Settings
) -> None:
    limit = max(FORGET_AFTER_S, 2 * heartbeat_limit_s(settings))
    delete = client.register_script(_DELETE_IF_UNCHANGED)
    # A value that does not decode has no age: it is silent, and goes too.
    for job_key, raw in snap.jobs_raw.items():
        job = snap.jobs.get(job_key)
        silent = age_s(at, job.heartbeat.sent_at if job else None)
        if job_key not in snap.desired and (silent is None or silent > limit):
            delete(keys=[keys.health_jobs()], args=[job_key, raw])
    for worker_id, raw in snap.workers_raw.items():
        worker = snap.workers.get(worker_id)
        silent = age_s(at, worker.last_seen_at if worker else None)
        if silent is None or silent > limit:
            delete(keys=[keys.health_workers()], args=[worker_id, raw])
