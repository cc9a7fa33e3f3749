"""Dramatiq actors. Thin: they take ids and primitives and hand off to plain functions.

Import ``service.broker`` and call ``setup_broker()`` (or ``use_broker``) first.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import Shutdown

from service.errors import ValidationError
from service.health import record_heartbeat as record
from service.heartbeat_sender import HeartbeatThread
from service.keys import Keys
from service.logs import get_logger
from service.queues import HEALTH_QUEUE, STREAMS_QUEUE
from service.redis_client import sync_client
from service.settings import Settings
from service.shutdown import stopping
from service.streaming import new_token, release_lease, run_stream_job

log = get_logger(__name__)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@dramatiq.actor(
    queue_name=STREAMS_QUEUE,
    # Long-lived by design; the beat re-enqueues, so Dramatiq's retries are not wanted.
    time_limit=float("inf"),
    max_retries=0,
    notify_shutdown=True,
)
def stream_exchange(job_key: str) -> None:
    """Stream one job key's tickers until its lease is lost or it leaves the desired state.

    The coroutine runs on the AsyncIO middleware's event loop, which every job
    of the process shares; this worker thread waits for it. A worker shutdown
    cancels it (the job releases its lease and says ``stopped``) and is an
    expected end, not a failure to log and retry.
    """
    if stopping.is_set():
        log.info("stream not started: the worker is stopping")
        return
    token = new_token()
    try:
        get_event_loop_thread().run_coroutine(  # type: ignore[union-attr]
            run_stream_job(job_key, settings(), _heartbeats().put, token)
        )
    except Shutdown:
        log.info("stream stopped for worker shutdown")
    finally:
        # Normally released already; this covers a job whose cleanup did not run in time.
        if release_lease(_sync_redis(), Keys(settings().key_prefix), job_key, token):
            log.warning("lease released by the worker thread")
        _heartbeats().flush(1.0)  # let the final "stopped" heartbeat go out


@lru_cache(maxsize=1)
def _heartbeats() -> HeartbeatThread:
    return HeartbeatThread(_send_heartbeat)


def _send_heartbeat(heartbeat: dict[str, Any]) -> None:
    record_heartbeat.send(heartbeat)


@dramatiq.actor(queue_name=HEALTH_QUEUE, max_retries=3, time_limit=30_000)
def record_heartbeat(heartbeat: dict[str, Any]) -> None:
    """Keep the latest heartbeat per job in the health registry."""
    try:
        record(_sync_redis(), Keys(settings().key_prefix), heartbeat, settings=settings())
    except ValidationError as exc:
        # A malformed heartbeat will not get better on retry; Redis errors do retry.
        log.warning("heartbeat dropped", error=str(exc))


@lru_cache(maxsize=1)
def _sync_redis() -> Any:
    return sync_client(settings().redis_url)
