"""The long-lived streaming job of one job key.

Four tasks share one event loop:

- ``_stream``: builds a ccxt client and its ``Feed``; on an error or a forced
  rebuild closes it and builds another after a capped, jittered backoff;
- ``_write``: wakes when readers saw frames, writes every symbol whose ticker
  changed since it was last written, in one pipeline per batch;
- ``_supervise``: every second (every ttl/3 if shorter) renews the lease
  (stops the job when another run holds it), applies desired-state changes,
  and rebuilds a feed that went stale;
- ``_heartbeat``: sends a small snapshot every heartbeat interval.

Redis away does not stop a job: nobody can take its lease meanwhile, the feed
stays open and the outbox keeps the latest tick per symbol. When Redis answers
again the job takes its lease back if the key is gone (Redis restarted empty),
writes what it held, and heartbeats at once. If the whole desired state is gone
too (no marker), it streams its last spec until the beat restores it.

How it stops: a task raises ``StopJob(reason)`` (lease held by another run, key
removed from the desired state, or ``worker_stopping()`` turned true), or the
job's task is cancelled. Either way ``_stop()``, the one cleanup, sets ``_stopping`` (the
flag every loop checks), cancels the tasks, releases the lease and sends the
final ``JobState.STOPPED`` heartbeat; ``run()`` returns the ``StopReason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ccxt
import structlog

from workers.backoff import Backoff
from workers.bounded import raise_if_cancelling, to_the_end, within
from workers.clock import now_ms
from workers.exchange_client import ClientConfigError, make_exchange
from workers.feed import CLOSE_TIMEOUT_S, Feed
from workers.heartbeat import Heartbeat
from workers.lease import Lease
from workers.outbox import Outbox
from workers.spec import JobSpec
from workers.states import JobState, LeaseHold, SpecMissing, StopReason
from workers.stats import JobStats

log = structlog.stdlib.get_logger(__name__)
STOP_TIMEOUT_S = 2.0  # how long _stop() waits for the cancelled tasks
# Supervision's period at most: an edit streams, and a restarted Redis gets the
# lease back, within a second.
SUPERVISE_TICK_S = 1.0
LoadSpec = Callable[[str], Awaitable[JobSpec | SpecMissing]]


class TickSink(Protocol):
    async def write(self, exchange: str, ticks: Sequence[dict[str, Any]]) -> None: ...
    async def remove(self, exchange: str, symbols: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class JobConfig:
    """A job's timings. No defaults here: ``service.settings.Settings`` holds the
    only ones (fields of the same names), so they are declared once."""

    heartbeat_interval_s: float
    lease_ttl_s: float
    stale_after_s: float
    reconnect_delay_s: float
    reconnect_max_delay_s: float
    max_retries: int


@dataclass(frozen=True)
class Identity:
    worker_id: str
    host: str
    pid: int


class StopJob(Exception):
    """Raised inside the job to end it (lease lost, key no longer desired)."""

    def __init__(self, reason: StopReason) -> None:
        super().__init__(reason)
        self.reason = reason


class StreamJob:
    def __init__(
        self,
        job_key: str,
        *,
        lease: Lease,
        load_spec: LoadSpec,
        sink: TickSink,
        send_heartbeat: Callable[[Heartbeat], Awaitable[None]],
        credentials: Callable[[str], dict[str, str]],
        config: JobConfig,
        identity: Identity,
        worker_stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.job_key = job_key
        self.lease = lease
        self.load_spec = load_spec
        self.sink = sink
        self.send_heartbeat = send_heartbeat
        self.credentials = credentials
        self.config = config
        self.identity = identity
        self.worker_stopping = worker_stopping
        self.spec: JobSpec | None = None
        self.state = JobState.STARTING
        self.stats = JobStats()
        self.backoff = Backoff(config.reconnect_delay_s, config.reconnect_max_delay_s)
        self.feed: Feed | None = None
        self._rebuild = asyncio.Event()
        self._stopping = False  # set by _stop(); every loop checks it
        self._beat_now = asyncio.Event()  # heartbeat at once (Redis answers again)
        self.redis_down_since: float | None = None  # monotonic, while Redis fails
        self._writes_failing = False
        self._writes_held = False
        self.outbox = Outbox(job_key)

    async def run(self) -> StopReason:
        """Stream until stopped; returns why it ended. Another live lease: returns at once.

        The job key is bound into structlog's contextvars here, in the task that runs
        the job (its tasks copy that context), so every line the job logs carries
        ``job=`` whoever runs it.
        """
        with structlog.contextvars.bound_contextvars(job=self.job_key):
            return await self._run()

    async def _run(self) -> StopReason:
        if not await self.lease.acquire():
            return StopReason.LEASE_HELD_ELSEWHERE
        tasks: list[asyncio.Future[None]] = []
        try:
            found = await self.load_spec(self.job_key)
            if not isinstance(found, JobSpec):
                raise StopJob(StopReason.NOT_DESIRED)
            self.spec = found
            tasks = [
                asyncio.ensure_future(coro)
                for coro in (self._stream(), self._write(), self._supervise(), self._heartbeat())
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            return StopReason.FINISHED
        except StopJob as stop:
            return stop.reason
        finally:
            # A cancel (the worker's shutdown) may land while a StopJob is being cleaned up.
            await to_the_end(self._stop(tasks))

    async def _stop(self, tasks: Sequence[asyncio.Future[None]]) -> None:
        """The one cleanup, whatever ended the job (a StopJob, a cancel, an error).

        The tasks are cancelled and also told, through ``_stopping`` and by waking
        what they wait on: Python 3.11's asyncio.timeout (inside redis-py) can
        swallow a cancel that coincides with its own deadline. Then the lease is
        released first (so a successor can start), and the job says goodbye.
        """
        self._stopping = True
        self.outbox.ready.set()
        self._beat_now.set()
        self._rebuild.set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        self.state = JobState.STOPPED
        await within(self.lease.release(), 0.5)
        await within(self.send_heartbeat(self.heartbeat()), 0.5)
        if self.feed is not None:
            await within(self.feed.close(), 1.0)
            self.feed = None

    # -- the feed ----------------------------------------------------------------
    async def _stream(self) -> None:
        while not self._stopping:
            assert self.spec is not None
            self._rebuild.clear()
            try:
                await self._run_feed(self.spec)
                continue  # a rebuild was asked for: no backoff
            except ClientConfigError as exc:
                self._failed(exc, fatal=True)
            except (TimeoutError, ccxt.BaseError, OSError) as exc:
                self._failed(exc, fatal=False)
            finally:
                if self.feed is not None:
                    await within(self.feed.close(), CLOSE_TIMEOUT_S)
                    self.feed = None
            raise_if_cancelling()
            await self._sleep_or_rebuild(self.backoff.next_delay())

    async def _run_feed(self, spec: JobSpec) -> None:
        exchange = make_exchange(spec, self.credentials(spec.exchange))
        self.outbox.new_feed()
        self.outbox.exchange = spec.exchange
        self.feed = feed = Feed(exchange, spec, self._observe)
        await feed.open()
        if feed.invalid:
            log.warning("invalid symbols skipped", symbols=feed.invalid, method=feed.method)
        # A feed rebuilt for staleness stays STALE until its first tick arrives.
        if self.state != JobState.STALE:
            self.state = JobState.STREAMING
        self.stats.last_tick_monotonic = time.monotonic()
        log.info("feed open", method=feed.method, symbols=len(feed.active))
        rebuild = asyncio.ensure_future(self._rebuild.wait())
        failure = asyncio.ensure_future(feed.failure())
        try:
            await asyncio.wait([rebuild, failure], return_when=asyncio.FIRST_COMPLETED)
        finally:
            rebuild.cancel()
            failure.cancel()
        if failure.done() and not failure.cancelled() and failure.exception():
            raise failure.exception()  # type: ignore[misc]

    def _failed(self, exc: BaseException, *, fatal: bool) -> None:
        self.stats.consecutive_failures = self.backoff.attempts + 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"[:500]
        if self.state == JobState.STREAMING:
            self.stats.reconnects += 1
        failing = fatal or self.stats.consecutive_failures >= self.config.max_retries
        self.state = JobState.FAILED if failing else JobState.RECONNECTING
        say = log.error if failing else log.warning
        say("feed failed", error=self.stats.last_error, attempt=self.stats.consecutive_failures)

    async def _sleep_or_rebuild(self, delay_s: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._rebuild.wait(), delay_s)

    # -- the writer --------------------------------------------------------------
    def _observe(self, symbols: Sequence[str]) -> None:
        feed = self.feed
        if feed is not None:
            self.outbox.observe(symbols, feed.latest, feed.active)

    async def _write(self) -> None:
        """One task writes, so batches and removals reach Redis in the order they were made."""
        outbox = self.outbox
        while not self._stopping:
            # redis-py may swallow a cancel that lands inside a pipeline: check each turn.
            raise_if_cancelling()
            await outbox.ready.wait()
            if not self._may_write():
                await asyncio.sleep(0.1)  # the outbox keeps the latest per symbol meanwhile
                continue
            outbox.ready.clear()
            batch = outbox.take()
            if batch and not await self._store(batch):
                outbox.put_back(batch)
                await asyncio.sleep(0.5)
                continue
            removed = outbox.take_removed()
            if removed and not await self._remove(removed):
                outbox.removed |= set(removed)
                await asyncio.sleep(0.5)

    def _may_write(self) -> bool:
        """Only while the lease is surely ours: after a stall past its ttl a successor
        may hold it, and two writers of one job must never overlap."""
        valid = self.lease.valid()
        if valid == self._writes_held:
            self._writes_held = not valid
            if valid:
                log.info("writes resumed, lease renewed")
            else:
                log.warning("writes held until the lease is renewed")
        return valid

    async def _store(self, batch: list[dict[str, Any]]) -> bool:
        try:
            await self.sink.write(self.outbox.exchange, batch)
        except Exception as exc:
            # Redis away: the outbox keeps the latest per symbol; try again soon.
            if not self._writes_failing:  # once per outage, not every half second
                log.warning("tick write failed, holding the latest per symbol", error=str(exc))
            self._writes_failing = True
            return False
        if self._writes_failing:
            self._writes_failing = False
            log.info("tick writes resumed", ticks=len(batch))
        self.stats.record_batch(batch)
        self.backoff.healthy()
        if self.backoff.attempts == 0:
            self.stats.consecutive_failures = 0
        if self.state == JobState.STALE:
            self.state = JobState.STREAMING
        return True

    async def _remove(self, symbols: list[str]) -> bool:
        try:
            await self.sink.remove(self.outbox.exchange, symbols)
        except Exception as exc:
            log.warning("tick removal failed", error=str(exc))
            return False
        return True

    # -- supervision -------------------------------------------------------------
    async def _supervise(self) -> None:
        tick_s = min(SUPERVISE_TICK_S, self.config.lease_ttl_s / 3)
        while not self._stopping:
            await asyncio.sleep(tick_s)
            if self.worker_stopping():
                raise StopJob(StopReason.WORKER_STOPPING)
            self._watchdog()
            try:
                await self._hold_lease()
                # Every tick, not only at renewals: an edit streams within a second.
                await self._follow_spec(await self.load_spec(self.job_key))
            except StopJob:
                raise
            except Exception as exc:
                raise_if_cancelling()
                self._redis_failed(exc)
            else:
                self._redis_answered()

    async def _hold_lease(self) -> None:
        held = await self.lease.renew()
        if held == LeaseHold.LOST:
            raise StopJob(StopReason.LEASE_LOST)
        if held == LeaseHold.RETAKEN:
            log.warning("lease taken back: its key was gone (Redis restarted, or a long stall)")

    def _redis_failed(self, exc: Exception) -> None:
        """Redis away: stream on. Nobody can take the lease while Redis does not answer."""
        if self.redis_down_since is None:
            self.redis_down_since = time.monotonic()
            log.warning("redis unreachable, streaming on", error=str(exc))

    def _redis_answered(self) -> None:
        if self.redis_down_since is not None:
            down_s = time.monotonic() - self.redis_down_since
            self.redis_down_since = None
            log.info("redis answers again", down_s=round(down_s, 1))
            self._beat_now.set()  # refill the health registry now, not in up to N s

    def _watchdog(self) -> None:
        """ccxt can stall without raising: rebuild a subscribed feed that went quiet."""
        feed = self.feed
        watched = self.state in (JobState.STREAMING, JobState.STALE)
        if feed is None or not feed.active or not watched:
            return
        # Arrival, not storage, decides: a saturated loop may write late without being stale.
        last = max(self.stats.last_tick_monotonic, self.outbox.last_change_monotonic)
        quiet_s = time.monotonic() - last
        if quiet_s >= self.config.stale_after_s:
            self.state = JobState.STALE
            self.stats.reconnects += 1
            self.stats.last_error = f"no tick for {quiet_s:.1f}s while subscribed"
            log.warning("feed stale, reconnecting", quiet_s=round(quiet_s, 1))
            self._rebuild.set()

    async def _follow_spec(self, found: JobSpec | SpecMissing) -> None:
        if found == SpecMissing.REMOVED:
            raise StopJob(StopReason.NOT_DESIRED)
        if not isinstance(found, JobSpec):
            # Redis lost the whole desired state: keep the last spec until the beat restores it.
            return
        spec, current = found, self.spec
        assert current is not None
        if spec == current:
            return
        self.spec = spec
        # Content decides, not the number alone: a beat that rebuilt a lost desired
        # state from the database numbers generations afresh.
        if spec.same_content(current):
            return
        log.info("desired state changed", generation=spec.generation)
        if spec.client_config() != current.client_config() or self.feed is None:
            self._rebuild.set()
            return
        await self._apply_symbols(self.feed, current.symbols, spec.symbols)

    async def _apply_symbols(self, feed: Feed, old: Sequence[str], new: Sequence[str]) -> None:
        removed = [s for s in old if s not in set(new)]
        added = [s for s in new if s not in set(old)]
        feed.spec = self.spec  # type: ignore[assignment]
        invalid = feed.add(added)
        if invalid:
            log.warning("invalid symbols skipped", symbols=invalid)
        if removed:
            feed.remove(removed)
            self.outbox.forget(removed)  # the writer deletes them from the store
            self.stats.forget(removed)
        log.info("symbols changed", added=added, removed=removed)

    # -- heartbeats --------------------------------------------------------------
    async def _heartbeat(self) -> None:
        while not self._stopping:
            self._beat_now.clear()  # before sending: a wake-up during the send is kept
            try:
                await self.send_heartbeat(self.heartbeat())
            except Exception as exc:
                raise_if_cancelling()
                # Health is best effort; streaming goes on.
                log.warning("heartbeat failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._beat_now.wait(), self.config.heartbeat_interval_s)

    def heartbeat(self) -> Heartbeat:
        spec, feed = self.spec, self.feed
        p50, p99 = self.stats.latency_quantiles()
        # Until a feed is open its subscriptions are empty; report what the job owes.
        symbols = (
            sorted(feed.active) if feed and feed.active else list(spec.symbols if spec else ())
        )
        return Heartbeat(
            job_key=self.job_key,
            exchange=spec.exchange if spec else self.job_key,
            worker_id=self.identity.worker_id,
            host=self.identity.host,
            pid=self.identity.pid,
            state=self.state,
            sent_at=now_ms(),
            symbols=symbols,
            invalid_symbols=list(feed.invalid) if feed else [],
            ticks_total=self.stats.ticks_total,
            ticks_per_s=round(self.stats.rate(), 2),
            last_tick_at=self.stats.last_tick_at,
            symbol_last_tick_at=dict(self.stats.symbol_last_tick_at),
            reconnects=self.stats.reconnects,
            consecutive_failures=self.stats.consecutive_failures,
            last_error=self.stats.last_error,
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            generation=spec.generation if spec else 0,
        )
