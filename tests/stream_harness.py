"""Runs a real StreamJob in-process against a real Redis and a simulator."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
import redis.asyncio as aioredis

from service.desired import load_spec
from service.keys import Keys
from service.simulator import Simulator, ccxt_params
from service.store import TickWriter
from workers.credentials import credentials_from_env
from workers.heartbeat import Heartbeat
from workers.lease import Lease
from workers.spec import JobSpec
from workers.states import StopReason
from workers.stream_job import Identity, JobConfig, StreamJob

FAST = JobConfig(
    heartbeat_interval_s=0.5,
    lease_ttl_s=1.5,
    stale_after_s=1.5,
    reconnect_delay_s=0.1,
    reconnect_max_delay_s=0.5,
    max_retries=3,
)


@dataclass
class Harness:
    redis_url: str
    keys: Keys
    config: JobConfig = FAST
    heartbeats: list[Heartbeat] = field(default_factory=list)
    client: aioredis.Redis | None = None

    @property
    def redis(self) -> aioredis.Redis:
        """The open client (inside ``async with``)."""
        assert self.client is not None, "the harness is not open"
        return self.client

    async def __aenter__(self) -> Harness:
        self.client = aioredis.Redis.from_url(self.redis_url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.client is not None
        await self.client.aclose()

    async def put_spec(self, spec: JobSpec) -> None:
        """Desire ``spec``, marking the desired state as present (as the beat does)."""
        assert self.client is not None
        await self.client.hset(self.keys.desired(), spec.job_key, spec.to_json())
        await self.client.set(self.keys.desired_marker(), "1")

    async def remove_spec(self, job_key: str) -> None:
        assert self.client is not None
        await self.client.hdel(self.keys.desired(), job_key)

    def job(self, job_key: str, *, pid: int = 1) -> StreamJob:
        assert self.client is not None
        client = self.client

        async def heartbeat(beat: Heartbeat) -> None:
            self.heartbeats.append(beat)

        return StreamJob(
            job_key,
            lease=Lease(client, self.keys.lease(job_key), int(self.config.lease_ttl_s * 1000)),
            load_spec=partial(load_spec, client, self.keys),
            sink=TickWriter(client, self.keys),
            send_heartbeat=heartbeat,
            credentials=credentials_from_env,
            config=self.config,
            identity=Identity(worker_id=f"test:{pid}", host="test", pid=pid),
        )

    async def board(self, exchange: str) -> dict[str, dict[str, Any]]:
        assert self.client is not None
        raw = await self.client.hgetall(self.keys.board(exchange))
        return {k.decode(): json.loads(v) for k, v in raw.items()}


@contextlib.asynccontextmanager
async def running(job: StreamJob) -> AsyncIterator[asyncio.Future[StopReason]]:
    """Run ``job`` for the duration of the block; always cancelled and awaited at the end."""
    task = asyncio.ensure_future(job.run())
    try:
        yield task
    finally:
        task.cancel()
        # A job that does not finish after a cancel is a bug: fail, do not hang.
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, "the job did not stop within 10 s of being cancelled"


async def wait_for(
    check: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str, step_s: float = 0.05
) -> float:
    """Poll ``check`` (plain or async) until true; returns the seconds it took, fails
    with ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        result = check()
        if await result if inspect.isawaitable(result) else result:
            return time.monotonic() - started
        await asyncio.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def spec_for(sim: Simulator, symbols: list[str], **extra: Any) -> JobSpec:
    """The desired spec of job ``sim`` streaming ``symbols`` from ``sim``."""
    fields = {
        "job_key": "sim",
        "exchange": "sim",
        "ccxt_id": sim.protocol_name,
        "symbols": tuple(symbols),
        "ccxt_params": ccxt_params(sim.protocol_name, sim.host, sim.port),
        "generation": 1,
        **extra,
    }
    return JobSpec(**fields)


async def all_ticked(h: Harness, exchange: str, symbols: list[str]) -> bool:
    return set(symbols) <= set(await h.board(exchange))


@dataclass
class Streaming:
    sim: Simulator
    h: Harness
    job: StreamJob
    task: asyncio.Future[StopReason]


@contextlib.asynccontextmanager
async def streaming(
    redis_url: str, keys: Keys, simulator: Simulator, **spec: Any
) -> AsyncIterator[Streaming]:
    """``simulator`` started, and job ``sim`` streaming from it until it stored a
    tick of every simulated symbol. ``spec`` fields override the job's spec
    (``symbols`` is all the simulator's unless given)."""
    async with simulator as sim, Harness(redis_url, keys) as h:
        await h.put_spec(spec_for(sim, spec.pop("symbols", sim.symbols), **spec))
        job = h.job("sim")
        async with running(job) as task:
            await wait_for(lambda: all_ticked(h, "sim", sim.symbols), 10, "every symbol")
            yield Streaming(sim, h, job, task)


async def mismatched(h: Harness, sim: Simulator, out: list[str]) -> bool:
    """True when every stored tick equals the last frame ``sim`` sent; else lists the others."""
    fields = ("bid", "ask", "last", "timestamp")
    try:
        last_sent, board = sim.last_sent, await h.board("sim")
    except redis.ConnectionError as exc:  # a pooled connection to a restarted server
        out[:] = [f"the board (Redis: {exc})"]
        return False
    out[:] = [
        s
        for s in sim.symbols
        if s not in board or any(board[s][f] != last_sent[s][f] for f in fields)
    ]
    return not out
