"""Supervision: enqueue every desired job that has neither a live lease nor a pending message.

No database here: the desired job keys come from Redis. For each job key the
pass asks ``EXISTS lease pending`` (one pipeline for all jobs), then claims
the idle ones with ``SET pending NX PX`` (a second pipeline) and enqueues only
the ones it claimed, so repeated passes, or two beats, never pile up messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from service.desired import DesiredState
from service.errors import StoreError
from service.keys import Keys
from service.logs import get_logger

log = get_logger(__name__)

Enqueue = Callable[[str], None]


def pending_ttl_s(lease_ttl_s: float) -> float:
    """How long a pending marker blocks re-enqueueing a job: 4 x LEASE_TTL_S, at least 30 s.

    It must outlast the normal wait from enqueue to lease (queue pickup plus the
    job's start), or a slow pickup would get a duplicate message; and it should
    be short, because a message that is lost (a worker dies between taking the
    message and taking the lease) blocks a retry until the marker expires. A
    crash after the lease was taken is not delayed by it: the marker has
    usually expired by then and the lease's own expiry is what counts.
    """
    return max(30.0, 4 * lease_ttl_s)


def restore_hold_off_s(lease_ttl_s: float) -> float:
    """How long a restored job is not enqueued: one LEASE_TTL_S.

    When Redis restarted empty the jobs that kept streaming take their leases
    back within a supervision tick (a second) of Redis answering; until then
    their lease keys are missing and a supervision pass would enqueue a
    duplicate that races them for the lease. A job whose worker died during the
    outage is enqueued once this hold-off ends, one ttl later than otherwise.
    """
    return lease_ttl_s


def hold_off(client: redis.Redis, keys: Keys, job_keys: Sequence[str], ttl_s: float) -> None:
    """Keep supervision from enqueueing ``job_keys`` for ``ttl_s`` (their pending markers,
    set only where none is). Raises StoreError."""
    try:
        _claim(client, keys, list(job_keys), ttl_s)
    except redis.RedisError as exc:
        raise StoreError(f"holding off {len(job_keys)} jobs: {exc}") from exc


@dataclass(frozen=True)
class Supervision:
    """What one supervision pass saw and did."""

    jobs: int
    enqueued: tuple[str, ...]
    failed: tuple[tuple[str, str], ...] = ()  # (job key, error) of enqueues that raised


def supervise(
    client: redis.Redis,
    keys: Keys,
    enqueue: Enqueue,
    *,
    pending_ttl_s: float,
    job_keys: Sequence[str] | None = None,
) -> Supervision:
    """Enqueue the desired jobs that are neither leased nor pending; return what happened.

    ``job_keys`` defaults to the desired job keys in Redis. An ``enqueue`` that
    raises is recorded in ``failed`` and its marker removed, so the next pass
    retries it. Raises StoreError when Redis fails.
    """
    if job_keys is None:
        job_keys = DesiredState(client, keys).job_keys()
    try:
        claimed = _claim(client, keys, _idle(client, keys, job_keys), pending_ttl_s)
    except redis.RedisError as exc:
        raise StoreError(f"supervising {len(job_keys)} jobs: {exc}") from exc
    enqueued: list[str] = []
    failed: list[tuple[str, str]] = []
    for job_key in claimed:
        try:
            enqueue(job_key)
        except Exception as exc:  # any broker error: retry on the next pass
            failed.append((job_key, f"{type(exc).__name__}: {exc}"))
            _unclaim(client, keys, job_key)
            continue
        enqueued.append(job_key)
    return Supervision(jobs=len(job_keys), enqueued=tuple(enqueued), failed=tuple(failed))


def _idle(client: redis.Redis, keys: Keys, job_keys: Sequence[str]) -> list[str]:
    """Job keys with neither a lease nor a pending marker (one round trip)."""
    pipe = client.pipeline(transaction=False)
    for job_key in job_keys:
        pipe.exists(keys.lease(job_key), keys.pending(job_key))
    counts = pipe.execute() if job_keys else []
    return [job_key for job_key, count in zip(job_keys, counts, strict=True) if not count]


def _claim(client: redis.Redis, keys: Keys, job_keys: list[str], ttl_s: float) -> list[str]:
    """The job keys whose pending marker this pass set (one round trip)."""
    if not job_keys:
        return []
    pipe = client.pipeline(transaction=False)
    for job_key in job_keys:
        pipe.set(keys.pending(job_key), "1", nx=True, px=int(ttl_s * 1000))
    return [job_key for job_key, ok in zip(job_keys, pipe.execute(), strict=True) if ok]


def _unclaim(client: redis.Redis, keys: Keys, job_key: str) -> None:
    try:
        client.delete(keys.pending(job_key))
    except redis.RedisError as exc:
        # The marker then expires on its own; the job is retried after that.
        log.warning("pending marker not removed", job_key=job_key, error=str(exc))
