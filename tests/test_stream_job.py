"""The streaming job against a real Redis and the simulator over real sockets."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from service.keys import Keys
from service.simulator import Simulator
from tests.stream_harness import (
    FAST,
    Harness,
    all_ticked,
    mismatched,
    running,
    spec_for,
    streaming,
    wait_for,
)


async def test_the_job_streams_every_symbol_into_redis_and_heartbeats(
    redis_url: str, keys: Keys
) -> None:
    async with Simulator(symbols=20, rate=20, seed=1) as sim, Harness(redis_url, keys) as h:
        await h.put_spec(spec_for(sim, sim.symbols))
        async with running(h.job("sim")):
            await wait_for(lambda: all_ticked(h, "sim", sim.symbols), 10, "every symbol")
            await wait_for(lambda: any(b.state == "streaming" for b in h.heartbeats), 5, "hb")
            tick = (await h.board("sim"))["BTC/USDT"]
            assert tick["bid"] < tick["ask"] and tick["timestamp"] is not None
            assert tick["received_at"] >= tick["timestamp"]
        assert h.heartbeats[-1].state == "stopped"
        assert await h.client.get(keys.lease("sim")) is None  # type: ignore[union-attr]


async def test_every_stored_tick_equals_the_last_frame_sent_at_full_rate(
    redis_url: str, keys: Keys
) -> None:
    # Full rate saturates the shared event loop (simulator and job): production lease
    # and staleness settings, or the job rightly stops when its renewal runs late.
    config = dataclasses.replace(FAST, lease_ttl_s=15, stale_after_s=30)
    async with (
        Simulator(symbols=200, rate=0, seed=2) as sim,
        Harness(redis_url, keys, config=config) as h,
    ):
        await h.put_spec(spec_for(sim, sim.symbols))
        async with running(h.job("sim")):
            await wait_for(lambda: all_ticked(h, "sim", sim.symbols), 15, "every symbol")
            await asyncio.sleep(2.0)
            sim.pause()
            sent_total = sim.feed.events_sent
            # Frames still in the socket buffers are parsed after the pause: wait
            # until the job has caught up, then every stored value must be the last.
            await wait_for(lambda: mismatched(h, sim, []), 20, "the store to catch up")
            assert sent_total > 2000, "the simulator did not run at a meaningful rate"
            others: list[str] = []
            assert await mismatched(h, sim, others) and others == []


async def test_a_second_run_of_the_same_job_key_returns_at_once(redis_url: str, keys: Keys) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=5, rate=5, seed=3)) as first:
        reason = await asyncio.wait_for(first.h.job("sim", pid=2).run(), 2)
        assert reason == "lease-held-elsewhere"
        assert not first.task.done()


async def test_credentials_from_the_environment_are_given_to_ccxt(
    redis_url: str, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIM_API_KEY", "key-0000aaaa")
    monkeypatch.setenv("SIM_SECRET", "secret-1111bbbb")
    async with streaming(redis_url, keys, Simulator(symbols=3, rate=5, seed=12)) as s:
        job = s.job
        assert job.feed is not None
        assert (job.feed.exchange.apiKey, job.feed.exchange.secret) == (
            "key-0000aaaa",
            "secret-1111bbbb",
        )
        assert "key-0000aaaa" not in job.heartbeat().to_dict().__repr__()


async def test_the_jobs_own_lines_carry_its_job_key(redis_url: str, keys: Keys) -> None:
    with capture_logs(processors=[merge_contextvars]) as logs:
        async with streaming(redis_url, keys, Simulator(symbols=3, rate=5, seed=16)):
            pass
    opened = next(line for line in logs if line["event"] == "feed open")
    assert (opened["job"], opened["symbols"]) == ("sim", 3)
