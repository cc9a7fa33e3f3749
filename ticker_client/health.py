"""Health as ``ticker-service status`` shows it, read by the client.

The registry is read in one round trip and derived by the service's own pure
functions (``service.health.snapshot.snapshot_of`` and
``service.health.derive.derive_status``): the client and ``status`` can never
disagree. Those modules import redis-py and structlog, never Dramatiq,
APScheduler, SQLAlchemy or ccxt (tests/test_client_import.py keeps it so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis.asyncio as aioredis

from service.health.derive import derive_status
from service.health.model import (
    BeatHealth,
    HealthState,
    JobHealth,
    PassHealth,
    Status,
    WorkerHealth,
)
from service.health.snapshot import registry_keys, snapshot_of
from service.keys import Keys
from service.settings import Settings
from ticker_client.errors import translated
from workers.clock import now_ms

__all__ = [
    "BeatHealth",
    "Health",
    "HealthState",
    "JobHealth",
    "PassHealth",
    "WorkerHealth",
    "read_health",
]


@dataclass(frozen=True)
class Health(Status):
    """The whole status at instant ``at`` (UTC epoch ms; ``at_utc`` as a datetime).

    ``jobs`` (``JobHealth``: ``job_key``, ``exchange``, ``state`` up|stale|down|failed,
    ``reason``, ``symbols``, ``ticks_per_s``, ``last_tick_age_s``...), ``undesired``,
    ``workers`` (``WorkerHealth``: ``worker_id``, ``jobs``, ``alive``, ``last_seen_at``...)
    and ``beat`` (``BeatHealth``: its ``reconcile`` and ``supervise`` passes,
    ``problems``) are the records ``ticker-service status --json`` prints, field
    for field. ``healthy`` is True when at least one job is desired and all are up.

    Example::

        health = await client.health()
        print(health.healthy, [(job.job_key, job.state) for job in health.jobs])
    """

    @property
    def at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.at / 1000, UTC)

    def job(self, job_key: str) -> JobHealth | None:
        """The desired job ``job_key`` (an exchange name, or ``name#n`` for a shard), or None."""
        return next((job for job in self.jobs if job.job_key == job_key), None)


async def read_health(client: aioredis.Redis, keys: Keys, settings: Settings) -> Health:
    """One pipeline of HGETALLs, derived at the client's clock; raises ConnectionLost."""
    pipe = client.pipeline(transaction=False)
    for key in registry_keys(keys):
        pipe.hgetall(key)
    with translated("reading the health registry"):
        replies = await pipe.execute()
    snap = snapshot_of(replies)
    status = derive_status(
        snap.desired, snap.jobs, snap.workers, snap.beat, now_ms=now_ms(), settings=settings
    )
    return Health(**vars(status))
