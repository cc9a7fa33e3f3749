"""The streaming jobs one worker process runs: started on its event loop, up to its capacity.

A stream job lives for hours; its Dramatiq message must not. Dramatiq counts a
message against the consumer's prefetch until it is acked, and acks it only
when the actor returns, so an actor that waited for its job would hold a
message (and a worker thread) for as long as the job streams: with
``dramatiq_queue_prefetch=1`` one process streamed one job. Instead the
actor hands the job to ``RunningJobs.start``, which schedules it on the
process's event loop (the AsyncIO middleware's loop thread, shared by every
job of the process) and returns at once; the message is acked within
milliseconds. The lease stays the one truth about who streams a job key.

``start`` refuses a job when the process already runs ``capacity`` jobs, when
it already runs that job key, or once the worker is stopping: the actor then
says so and lets the beat re-enqueue the job. ``stop_all`` (the worker's
shutdown) stops every job and waits for its cleanup.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from service.logs import get_logger

log = get_logger(__name__)
JobFactory = Callable[[], Coroutine[Any, Any, Any]]


class Refusal(StrEnum):
    """Why a job was not started in this process."""

    FULL = "full"
    RUNNING_HERE = "running-here"
    STOPPING = "stopping"


@dataclass
class Run:
    """One job started here; ``done`` is set once its coroutine ended, cleanup included.

    ``task`` and ``stop_asked`` are only touched on the event loop's thread.
    """

    job_key: str
    token: str
    loop: asyncio.AbstractEventLoop
    done: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[Any] | None = None
    stop_asked: bool = False
    said_stopped: bool = False  # its final heartbeat is out; only cleanup is left

    def stop(self) -> None:
        """Ask the job to stop; call on the loop. A job whose task has not started yet
        then ends before it begins (cancelling an unstarted task would skip our cleanup)."""
        self.stop_asked = True
        if self.task is not None:
            self.task.cancel()


class RunningJobs:
    """Thread-safe: worker threads start jobs, the loop thread ends them, the main
    thread stops them all at shutdown."""

    def __init__(self, capacity: int, stopping: Callable[[], bool] = lambda: False) -> None:
        self.capacity = capacity
        self._stopping = stopping
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """How many jobs run here now (a job counts until its cleanup ended)."""
        with self._lock:
            return len(self._runs)

    @property
    def streaming(self) -> int:
        """The jobs that have not said their final ``stopped`` yet: what a heartbeat reports."""
        with self._lock:
            return sum(not run.said_stopped for run in self._runs.values())

    def said_stopped(self, job_key: str) -> None:
        """``job_key`` sent its final heartbeat: it leaves the reported load now,
        though it keeps its slot until its cleanup ended."""
        with self._lock:
            if (run := self._runs.get(job_key)) is not None:
                run.said_stopped = True

    def job_keys(self) -> list[str]:
        with self._lock:
            return sorted(self._runs)

    def start(
        self, job_key: str, token: str, job: JobFactory, loop: asyncio.AbstractEventLoop
    ) -> Refusal | None:
        """Schedule ``job()`` on ``loop`` without waiting for it; None when started.

        Refuses when full, when ``job_key`` already runs here, or when the
        worker is stopping. ``job`` is called on the loop, so a job stopped
        before it began leaves no coroutine never awaited.
        """
        with self._lock:
            refusal = self._refusal(job_key)
            if refusal is not None:
                return refusal
            run = self._runs[job_key] = Run(job_key, token, loop)
            # Under the lock, so stop_all never sees a run that is not scheduled yet.
            asyncio.run_coroutine_threadsafe(self._main(run, job), loop)
        return None

    def _refusal(self, job_key: str) -> Refusal | None:
        # Checked under the lock that stop_all takes after the flag was set: a job
        # is either refused or among the runs stop_all stops.
        if self._stopping():
            return Refusal.STOPPING
        if job_key in self._runs:
            return Refusal.RUNNING_HERE
        if len(self._runs) >= self.capacity:
            return Refusal.FULL
        return None

    async def _main(self, run: Run, job: JobFactory) -> None:
        # run_coroutine_threadsafe scheduled this with a copy of the actor's
        # log context, so these lines carry actor= and job= too.
        run.task = asyncio.current_task()
        try:
            if not run.stop_asked:
                await job()
        except asyncio.CancelledError:
            pass  # the worker's shutdown; the job did its own cleanup
        except Exception:
            log.exception("job failed")
        finally:
            self._forget(run)

    def _forget(self, run: Run) -> None:
        with self._lock:
            if self._runs.get(run.job_key) is run:
                del self._runs[run.job_key]
        run.done.set()

    def stop_all(self, timeout_s: float) -> list[Run]:
        """Stop every running job and wait up to ``timeout_s`` for their cleanup
        (lease released, final heartbeat); returns the runs that did not finish in
        time, for a cleanup from outside the loop. Call after ``stopping`` turned
        true, so that no job starts after this."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            try:
                run.loop.call_soon_threadsafe(run.stop)
            except RuntimeError:  # the loop is closed: nothing of the job runs any more
                self._forget(run)
        deadline = time.monotonic() + timeout_s
        return [run for run in runs if not run.done.wait(max(0.0, deadline - time.monotonic()))]
