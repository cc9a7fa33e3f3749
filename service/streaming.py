"""Wiring of a streaming job: settings, Redis, the tick store and heartbeats.

The runtime itself lives in ``workers.stream_job``; this module gives it its
Redis lease, desired-state reader, tick writer and heartbeat sender.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import fields
from functools import lru_cache, partial
from typing import Any

import redis
import redis.asyncio as aioredis

from service.desired import load_spec
from service.keys import Keys
from service.logs import get_logger
from service.redis_client import async_client
from service.settings import Settings
from service.shutdown import stopping
from service.store import TickWriter
from workers.credentials import credentials_from_env
from workers.heartbeat import Heartbeat
from workers.lease import Lease
from workers.scripts import COMPARE_AND_DELETE
from workers.states import StopReason
from workers.stream_job import Identity, JobConfig, StreamJob

log = get_logger(__name__)
HeartbeatSender = Callable[[dict[str, Any]], None]


def job_config(settings: Settings) -> JobConfig:
    """The job's timings, taken from the settings under the same names."""
    return JobConfig(**{field.name: getattr(settings, field.name) for field in fields(JobConfig)})


def identity() -> Identity:
    host, pid = socket.gethostname(), os.getpid()
    return Identity(worker_id=f"{host}:{pid}", host=host, pid=pid)


@lru_cache(maxsize=8)
def _client_for_loop(url: str, loop_id: int) -> aioredis.Redis:
    # redis.asyncio connections belong to one event loop; Dramatiq runs one per process.
    return async_client(url)


def new_token() -> str:
    return uuid.uuid4().hex


def release_lease(client: redis.Redis, keys: Keys, job_key: str, token: str) -> bool:
    """Release the lease from outside the event loop if this run still holds it.

    A worker shutdown gives the process's jobs a few seconds
    (``service.actors.JOB_STOP_WAIT_S``); on an event loop saturated by a
    full-rate feed a job's own release may not run in time, and the lease would
    block a successor for up to LEASE_TTL_S.
    """
    return bool(COMPARE_AND_DELETE.run(client, keys=[keys.lease(job_key)], args=[token]))


async def run_stream_job(
    job_key: str, settings: Settings, send_heartbeat: HeartbeatSender, token: str = ""
) -> StopReason:
    """Run the job of ``job_key`` until it stops; returns why it stopped."""
    client = _client_for_loop(settings.redis_url, id(asyncio.get_running_loop()))
    keys = Keys(settings.key_prefix)
    await client.delete(keys.pending(job_key))

    async def heartbeat(beat: Heartbeat) -> None:
        send_heartbeat(beat.to_dict())

    job = StreamJob(
        job_key,
        lease=Lease(client, keys.lease(job_key), int(settings.lease_ttl_s * 1000), token),
        load_spec=partial(load_spec, client, keys),
        sink=TickWriter(client, keys),
        send_heartbeat=heartbeat,
        credentials=credentials_from_env,
        config=job_config(settings),
        identity=identity(),
        worker_stopping=stopping.is_set,
    )
    log.info("job starting", thread=threading.current_thread().name)
    reason = await job.run()
    log.info("job ended", reason=reason)
    return reason
