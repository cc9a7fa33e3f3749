"""RunningJobs: a worker process's stream jobs on its event loop, up to its capacity."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from service.health.model import WorkerHealth
from service.health.records import WorkerRecord
from service.health.render import _worker_line
from service.running_jobs import Refusal, RunningJobs


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in a thread of its own, as the AsyncIO middleware runs it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


class Job:
    """A job that runs until cancelled and records how it ended."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.cleaned_up = threading.Event()

    async def __call__(self) -> None:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)  # a cleanup that awaits, as releasing a lease does
            self.cleaned_up.set()


def test_jobs_start_without_waiting_up_to_the_capacity(loop: asyncio.AbstractEventLoop) -> None:
    jobs = RunningJobs(capacity=2)
    first, second = Job(), Job()
    assert jobs.start("a", "t1", first, loop) is None
    assert jobs.start("b", "t2", second, loop) is None
    assert first.started.wait(2) and second.started.wait(2)
    assert jobs.start("c", "t3", Job(), loop) == Refusal.FULL
    assert jobs.start("a", "t4", Job(), loop) == Refusal.RUNNING_HERE
    assert (jobs.count, jobs.job_keys()) == (2, ["a", "b"])
    assert jobs.stop_all(2) == []


def test_a_job_that_ends_frees_its_slot(loop: asyncio.AbstractEventLoop) -> None:
    jobs = RunningJobs(capacity=1)

    async def short() -> None:
        await asyncio.sleep(0.01)

    assert jobs.start("a", "t1", short, loop) is None
    deadline = time.monotonic() + 2
    while jobs.count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jobs.start("b", "t2", short, loop) is None
    assert jobs.stop_all(2) == []


def test_a_failing_job_is_logged_and_leaves(loop: asyncio.AbstractEventLoop) -> None:
    jobs = RunningJobs(capacity=1)

    async def broken() -> None:
        raise ValueError("boom")

    jobs.start("a", "t1", broken, loop)
    assert jobs.stop_all(2) == []
    assert jobs.count == 0


def test_stop_all_cancels_every_job_and_waits_for_its_cleanup(
    loop: asyncio.AbstractEventLoop,
) -> None:
    stopping = threading.Event()
    jobs = RunningJobs(capacity=3, stopping=stopping.is_set)
    started = [Job() for _ in range(3)]
    for n, job in enumerate(started):
        jobs.start(f"j{n}", "t", job, loop)
    assert all(job.started.wait(2) for job in started)
    stopping.set()
    assert jobs.stop_all(2) == []
    assert all(job.cleaned_up.is_set() for job in started)
    assert jobs.count == 0
    assert jobs.start("late", "t", Job(), loop) == Refusal.STOPPING


def test_a_job_stopped_before_its_task_began_never_runs(loop: asyncio.AbstractEventLoop) -> None:
    jobs = RunningJobs(capacity=1)
    job = Job()
    gate = threading.Event()
    loop.call_soon_threadsafe(gate.wait, 2)  # holds the loop: the job's task cannot begin
    jobs.start("a", "t", job, loop)
    late = jobs.stop_all(0.01)
    assert [run.job_key for run in late] == ["a"]
    gate.set()
    assert late[0].done.wait(2)
    assert not job.started.is_set() and jobs.count == 0


def test_a_job_whose_cleanup_overruns_is_returned_for_a_cleanup_from_outside(
    loop: asyncio.AbstractEventLoop,
) -> None:
    jobs = RunningJobs(capacity=1)

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(1.0)

    jobs.start("a", "token-a", stubborn, loop)
    time.sleep(0.05)
    late = jobs.stop_all(0.1)
    assert [(run.job_key, run.token) for run in late] == [("a", "token-a")]
    assert late[0].done.wait(3)


def test_the_reported_load_leaves_out_jobs_that_said_their_final_heartbeat(
    loop: asyncio.AbstractEventLoop,
) -> None:
    jobs = RunningJobs(capacity=4)
    for key in ("a", "b"):
        jobs.start(key, "t", Job(), loop)
    jobs.said_stopped("a")
    assert (jobs.streaming, jobs.count) == (1, 2)
    assert jobs.stop_all(2) == []


@pytest.mark.parametrize(
    ("running", "capacity", "shown"),
    [(3, 16, "jobs 3/16, holds a, b, c"), (None, 16, "jobs ?/16, holds"), (None, None, "holds")],
)
def test_status_shows_each_workers_jobs_out_of_its_capacity(
    running: int | None, capacity: int | None, shown: str
) -> None:
    jobs = ("a", "b", "c") if running else ()
    worker = WorkerHealth(
        **WorkerRecord("h:1", "h", 1, jobs, 0, running=running, capacity=capacity).__dict__,
        last_seen_age_s=1.0,
        alive=True,
    )
    assert shown in _worker_line(worker)


def test_a_worker_record_stored_before_the_load_fields_still_reads() -> None:
    old = {"worker_id": "h:1", "host": "h", "pid": 1, "jobs": ["a"], "last_seen_at": 5}
    record = WorkerRecord.from_dict(old)
    assert (record.running, record.capacity) == (None, None)
    assert WorkerRecord.from_dict(record.to_dict()) == record
