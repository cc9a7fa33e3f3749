"""Dramatiq actors. Thin: they take ids and primitives and hand off to plain functions.

Import ``service.broker`` and call ``setup_broker()`` (or ``use_broker``) first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any

import dramatiq
import redis
from dramatiq.asyncio import get_event_loop_thread

from service.errors import TickerServiceError, ValidationError
from service.health import record_heartbeat as record
from service.heartbeat_sender import HeartbeatThread
from service.history.job import HistoryJob
from service.history.records import Stream
from service.history.worker_parts import history_worker
from service.keys import Keys
from service.logs import get_logger
from service.queues import HEALTH_QUEUE, HISTORY_QUEUE, STREAMS_QUEUE
from service.redis_client import sync_client
from service.running_jobs import Refusal, RunningJobs
from service.settings import Settings
from service.shutdown import on_worker_stop, stopping
from service.streaming import new_token, release_lease, run_stream_job
from workers.states import JobState, StopReason

log = get_logger(__name__)
# Honcho and foreman SIGKILL 5 s after SIGTERM, and Dramatiq's own stop follows
# the hooks: a job's cleanup normally takes milliseconds, its bounds add up to ~3 s.
JOB_STOP_WAIT_S = 3.0


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@dramatiq.actor(
    queue_name=STREAMS_QUEUE,
    # The actor returns at once; the beat re-enqueues, so Dramatiq's retries are not wanted.
    time_limit=30_000,
    max_retries=0,
)
def stream_exchange(job_key: str) -> None:
    """Start the stream job of ``job_key`` in this process and return at once.

    The job runs on the process's event loop (the AsyncIO middleware's, shared by
    every job of the process) until its lease is lost or it leaves the desired
    state; the message is acked now, so Dramatiq's prefetch never limits how many
    jobs a process streams: ``STREAM_JOBS_PER_PROCESS`` does. A process that is
    full, stopping or already streaming the key declines (see ``_decline``).
    """
    jobs = running_jobs()
    token = new_token()

    def job() -> Coroutine[Any, Any, StopReason]:
        return run_stream_job(job_key, settings(), _put_heartbeat, token)

    refusal = jobs.start(job_key, token, job, _event_loop())
    if refusal is not None:
        _decline(job_key, refusal)
        return
    log.info("stream job started", running=jobs.count, capacity=jobs.capacity)


def _decline(job_key: str, refusal: Refusal) -> None:
    """Say why the job did not start here, and drop its pending marker: the beat's
    next supervision pass (no lease, no marker) re-enqueues it for a process with
    room instead of waiting for the marker to expire."""
    jobs = running_jobs()
    say = log.warning if refusal == Refusal.FULL else log.info
    say("stream not started", why=refusal, running=jobs.count, capacity=jobs.capacity)
    try:
        _sync_redis().delete(Keys(settings().key_prefix).pending(job_key))
    except redis.RedisError as exc:  # the marker then expires on its own
        log.warning("pending marker not removed", error=str(exc))


@lru_cache(maxsize=1)
def running_jobs() -> RunningJobs:
    """This process's stream jobs; its capacity is ``STREAM_JOBS_PER_PROCESS``."""
    return RunningJobs(settings().stream_jobs_per_process, stopping.is_set)


def _event_loop() -> asyncio.AbstractEventLoop:
    thread = get_event_loop_thread()
    if thread is None:
        raise RuntimeError("no event loop: the broker needs the AsyncIO middleware")
    return thread.loop


@on_worker_stop
def stop_stream_jobs() -> None:
    """The worker stops: stop every stream job of the process and wait for its cleanup.

    A job that did not finish within ``JOB_STOP_WAIT_S`` (a loop saturated by a
    full-rate feed) gets its lease released from here, so a successor need not
    wait up to LEASE_TTL_S; then the final ``stopped`` heartbeats are let out.
    """
    jobs = running_jobs()
    if not jobs.count:
        return
    log.info("stopping stream jobs", running=jobs.count)
    for run in jobs.stop_all(JOB_STOP_WAIT_S):
        if release_lease(_sync_redis(), Keys(settings().key_prefix), run.job_key, run.token):
            log.warning("lease released by the worker", job=run.job_key)
    _heartbeats().flush(1.0)


def _put_heartbeat(heartbeat: dict[str, Any]) -> None:
    """Queue a job's heartbeat with its process's load (jobs running, capacity)."""
    jobs = running_jobs()
    if heartbeat.get("state") == JobState.STOPPED:
        jobs.said_stopped(heartbeat["job_key"])  # its last word: it leaves the count with it
    load = {"worker_jobs": jobs.streaming, "worker_capacity": jobs.capacity}
    _heartbeats().put({**heartbeat, **load})


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


@dramatiq.actor(
    queue_name=HISTORY_QUEUE,
    # The beat plans again whatever a task left undone (its claim is released or
    # expires), so Dramatiq's own retries would only duplicate work. A task is
    # bounded by HISTORY_PAGES_PER_TASK pages, each by its token wait and ccxt's timeout.
    max_retries=0,
    time_limit=15 * 60 * 1000,
)
def fetch_history(
    exchange: str, symbol: str, stream: str, start_ms: int, end_ms: int, task_id: str
) -> None:
    """Backfill ``[start_ms, end_ms)`` of one stream (a task the beat planned)."""
    try:
        job = HistoryJob(exchange, symbol, Stream(stream), start_ms, end_ms, task_id)
    except ValueError as exc:  # a message from an incompatible version: nothing to retry
        log.warning("history task dropped", error=str(exc), task=task_id)
        return
    try:
        history_worker(settings()).run(job)
    except TickerServiceError as exc:  # the beat plans it again; the ledger shows the gap
        log.warning("history task failed", task=task_id, error=str(exc))
