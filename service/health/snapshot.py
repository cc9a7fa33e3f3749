"""Reading the desired state, the registry and the beat's passes in one round trip."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import redis

from service.beat.status import PassStatus
from service.errors import StoreError
from service.health.codec import decode, loads
from service.health.derive import derive_status
from service.health.model import Status
from service.health.records import JobRecord, WorkerRecord
from service.keys import Keys
from service.settings import Settings
from workers.clock import now_ms
from workers.redis_text import text

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    """Everything health is derived from, as stored at one instant.

    ``jobs_raw``/``workers_raw`` keep the exact stored bytes so a writer can
    change a field only if nobody rewrote it since (compare-and-set); a value
    that does not decode is in them but not in ``jobs``/``workers``.
    ``states`` holds the ``health_states`` values as stored text, for the same
    compare-and-set.
    """

    desired: dict[str, tuple[str, ...]]
    jobs: dict[str, JobRecord]
    jobs_raw: dict[str, bytes]
    workers: dict[str, WorkerRecord]
    workers_raw: dict[str, bytes]
    beat: dict[str, PassStatus]
    states: dict[str, str]


def registry_keys(keys: Keys) -> tuple[str, ...]:
    """The five hashes a snapshot reads, in the order ``snapshot_of`` takes their replies."""
    return (
        keys.desired(),
        keys.health_jobs(),
        keys.health_workers(),
        keys.beat_status(),
        keys.health_states(),
    )


def load_snapshot(client: redis.Redis, keys: Keys) -> Snapshot:
    """One pipeline of five HGETALLs; raises StoreError when Redis fails."""
    pipe = client.pipeline(transaction=False)
    for key in registry_keys(keys):
        pipe.hgetall(key)
    try:
        replies = pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"reading the health registry: {exc}") from exc
    return snapshot_of(replies)


def snapshot_of(replies: Sequence[dict[Any, Any]]) -> Snapshot:
    """The snapshot of the HGETALL replies of ``registry_keys``, in that order.

    Pure: the sync reader above and the async client (``ticker_client``) share it.
    """
    desired, jobs, workers, beat, states = replies
    jobs_raw = _by_name(jobs)
    workers_raw = _by_name(workers)
    return Snapshot(
        desired={name: _symbols(raw) for name, raw in _by_name(desired).items()},
        jobs=_decoded(jobs_raw, JobRecord.from_dict),
        jobs_raw=jobs_raw,
        workers=_decoded(workers_raw, WorkerRecord.from_dict),
        workers_raw=workers_raw,
        beat={
            kind: status
            for kind, raw in _by_name(beat).items()
            if (status := decode(raw, partial(PassStatus.from_dict, kind)))
        },
        states={name: text(raw) for name, raw in _by_name(states).items()},
    )


def load_status(
    client: redis.Redis, keys: Keys, settings: Settings, *, now: int | None = None
) -> Status:
    """The derived status at ``now`` (ms, default the clock); raises StoreError."""
    snap = load_snapshot(client, keys)
    return derive_status(
        snap.desired,
        snap.jobs,
        snap.workers,
        snap.beat,
        now_ms=now if now is not None else now_ms(),
        settings=settings,
    )


def _by_name(mapping: dict[Any, Any]) -> dict[str, Any]:
    return {text(name): value for name, value in mapping.items()}


def _decoded(raw: dict[str, bytes], parse: Callable[[Mapping[str, Any]], T]) -> dict[str, T]:
    # A value that does not decode is left out: one bad value is never fatal.
    return {name: value for name, data in raw.items() if (value := decode(data, parse)) is not None}


def _symbols(raw: bytes) -> tuple[str, ...]:
    # Only the symbols are needed here; a spec we cannot read is still desired.
    spec = loads(raw) or {}
    symbols = spec.get("symbols")
    return tuple(str(s) for s in symbols) if isinstance(symbols, list) else ()
