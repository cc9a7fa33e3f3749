"""Driving history tasks the way one worker process would, for ``bench/history.py``.

The benchmark plays the beat and the queue: a range is cut on the planner's
chunk grid (``plan.chunks``), one ``HistoryJob`` per chunk, and ``THREADS``
threads run them through ``HistoryWorker.run`` (what the ``fetch_history``
actor hands off to), each to completion, as the beat would plan a task again
until its range has no gap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bench.common import RedisSpace
from service.db.session import session_scope
from service.history.client import ExchangeConfig
from service.history.exchange_config import load_exchange_config
from service.history.job import HistoryJob, HistoryWorker
from service.history.plan import PlanLimits, chunks
from service.history.records import Range, Stream
from service.history.store import HistoryStore
from service.simulator.history import HOUR_MS

THREADS = 2  # one worker process with two threads (the machine has two cores)
PAGES_PER_TASK = 20  # HISTORY_PAGES_PER_TASK's default


def history_worker(
    space: RedisSpace, store: HistoryStore, sessions: sessionmaker[Session]
) -> HistoryWorker:
    """A worker as ``worker_parts.history_worker`` builds it, on the run's prefix and schema:
    the exchange row read for every task, the default pages per task."""

    def load(name: str) -> ExchangeConfig:
        with session_scope(sessions, action=f"bench: exchange {name}") as session:
            return load_exchange_config(session, name)

    return HistoryWorker(
        client=space.client,
        keys=space.keys,
        store=store,
        load_config=load,
        pages_per_task=PAGES_PER_TASK,
        marker_ttl_s=120.0,
    )


@dataclass
class Tally:
    """What a batch of tasks did."""

    tasks: int = 0
    pages: int = 0
    rows: int = 0
    errors: int = 0
    seconds: float = 0.0


def jobs_for(
    exchange: str, symbols: Sequence[str], stream: Stream, window: Range
) -> list[HistoryJob]:
    """The tasks the beat would plan for ``window`` of each symbol (one per chunk)."""
    size = PlanLimits(max_in_flight=THREADS).chunk_ms(stream)
    return [
        HistoryJob(exchange, symbol, stream, part.start_ms, part.end_ms, f"{symbol}|{chunk}")
        for chunk, part in chunks(window, size)
        for symbol in symbols
    ]


def drive(
    worker: HistoryWorker,
    jobs: Sequence[HistoryJob],
    *,
    until: float | None = None,
    after_task: Callable[[Tally], None] = lambda _: None,
) -> Tally:
    """Run ``jobs`` on ``THREADS`` threads, each to completion; no new one after ``until``."""
    tally, lock = Tally(), threading.Lock()
    pending = iter(jobs)
    started = time.monotonic()

    def loop() -> None:
        while until is None or time.monotonic() < until:
            with lock:
                job = next(pending, None)
            if job is None:
                return
            pages, rows, errors = _whole(worker, job)
            with lock:
                tally.tasks, tally.pages, tally.rows = (
                    tally.tasks + 1,
                    tally.pages + pages,
                    tally.rows + rows,
                )
                tally.errors += errors
                after_task(tally)

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(loop) for _ in range(THREADS)]:
            future.result()
    tally.seconds = time.monotonic() - started
    return tally


def _whole(worker: HistoryWorker, job: HistoryJob) -> tuple[int, int, int]:
    """One task run again until its range is complete (as the beat would replan it)."""
    pages = rows = errors = 0
    while True:
        outcome = worker.run(job)
        pages, rows = pages + outcome.pages, rows + outcome.rows
        errors += outcome.error is not None
        if outcome.complete or errors > 3:
            return pages, rows, errors


def past_window(hours: int, *, hours_ago: int = 2) -> Range:
    """``hours`` whole hours ending ``hours_ago`` hours before the current one."""
    now = int(time.time() * 1000)
    end = now - now % HOUR_MS - hours_ago * HOUR_MS
    return Range(end - hours * HOUR_MS, end)
