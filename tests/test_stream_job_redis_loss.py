"""A streaming job when Redis goes away, comes back empty, or loses parts of its state.

Real parts: a private redis-server SIGKILLed and started again on the same port
(no persistence: it comes back empty), the simulator, a real StreamJob.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import redis

from bench.redis_server import RedisServer
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
from workers.states import JobState

# Longer than the test: a paused simulator must not look like a stalled feed, and the
# only heartbeats are the first one and the one sent when Redis answers again.
PATIENT = dataclasses.replace(FAST, stale_after_s=30.0, heartbeat_interval_s=30.0)


async def test_a_job_keeps_its_feed_while_redis_is_down_and_writes_the_latest_values_back(
    keys: Keys,
) -> None:
    with RedisServer() as server:
        async with (
            Simulator(symbols=8, rate=20, seed=41) as sim,
            Harness(server.url, keys, config=PATIENT) as h,
        ):
            await h.put_spec(spec_for(sim, sim.symbols))
            job = h.job("sim")
            async with running(job) as task:
                await wait_for(lambda: all_ticked(h, "sim", sim.symbols), 10, "every symbol")
                connections, token = sim.state()["connections_total"], job.lease.token
                server.kill()
                down_at = time.monotonic()
                # Twice the lease ttl: the old job stopped with "lease-expired" here.
                await asyncio.sleep(2 * PATIENT.lease_ttl_s)
                assert job.outbox.last_change_monotonic > down_at, "the feed stopped"
                sim.pause()  # from here the last values sent are final
                await asyncio.sleep(0.3)
                beats = len(h.heartbeats)
                answered_at = server.start()
                out: list[str] = []
                took = await wait_for(lambda: mismatched(h, sim, out), 5, f"latest of {out}")
                print(f"latest value of every symbol stored {took:.2f}s after Redis answered")
                assert not task.done()
                assert job.state == JobState.STREAMING and job.stats.reconnects == 0
                assert sim.state()["connections_total"] == connections, "the feed was rebuilt"
                await wait_for(lambda: _leased_by(h, keys, token), 3, "the lease taken back")
                await wait_for(lambda: len(h.heartbeats) > beats, 3, "a heartbeat at once")
                assert time.monotonic() - answered_at < 5


async def _leased_by(h: Harness, keys: Keys, token: str) -> bool:
    return await h.redis.get(keys.lease("sim")) == token.encode()


async def test_a_job_whose_whole_desired_state_is_gone_streams_its_last_spec(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=4, rate=20, seed=42)) as s:
        client = s.h.redis
        await client.delete(keys.desired(), keys.desired_marker())
        await asyncio.sleep(4 * s.h.config.lease_ttl_s / 3)  # several supervision ticks
        assert not s.task.done()
        mark = s.job.stats.ticks_total
        await wait_for(lambda: s.job.stats.ticks_total > mark + 10, 5, "ticks go on")
        # Restored: with the marker back, the job follows its key again.
        await s.h.put_spec(spec_for(s.sim, s.sim.symbols))
        await s.h.remove_spec("sim")
        assert await asyncio.wait_for(s.task, 3) == "not-desired"


async def test_a_job_whose_lease_key_vanished_takes_it_back_with_its_own_token(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=2, rate=10, seed=43)) as s:
        await s.h.redis.delete(keys.lease("sim"))
        await wait_for(lambda: _leased_by(s.h, keys, s.job.lease.token), 3, "the lease back")
        assert 0 < await s.h.redis.pttl(keys.lease("sim")) <= FAST.lease_ttl_s * 1000
        assert not s.task.done()


async def test_a_spec_renumbered_from_scratch_is_followed_by_its_content(
    redis_url: str, keys: Keys
) -> None:
    # A beat that rebuilt a lost desired state from the database numbers generations
    # afresh: the same number may now carry other symbols.
    async with Simulator(symbols=6, rate=20, seed=44) as sim, Harness(redis_url, keys) as h:
        first, later = sim.symbols[:3], sim.symbols[3:]
        await h.put_spec(spec_for(sim, first, generation=7))
        async with running(h.job("sim")):
            await wait_for(lambda: all_ticked(h, "sim", first), 10, "first symbols")
            await h.put_spec(spec_for(sim, first + later, generation=7))
            await wait_for(lambda: all_ticked(h, "sim", later), 5, "the renumbered spec")


async def test_a_job_that_stalled_past_its_ttl_writes_nothing_once_a_successor_leased(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=4, rate=50, seed=45)) as s:
        successor = threading.Thread(target=_take_when_free, args=(redis_url, keys.lease("sim")))
        successor.start()
        # The whole event loop stalls (a long GC pause, a saturated loop): the lease
        # lapses and another run takes it before this job can notice.
        time.sleep(FAST.lease_ttl_s + 0.5)
        stall_end_ms = time.time() * 1000
        successor.join()
        assert await asyncio.wait_for(s.task, 3) == "lease-lost"
        late = [t for t in (await s.h.board("sim")).values() if t["received_at"] >= stall_end_ms]
        assert late == [], "the stalled job wrote after its successor took the lease"


def _take_when_free(redis_url: str, lease_key: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + 5
        while not client.set(lease_key, "successor", nx=True, px=10_000):
            assert time.monotonic() < deadline, "the stalled job's lease never lapsed"
            time.sleep(0.01)
    finally:
        client.close()


async def test_ticks_wait_in_the_outbox_while_the_lease_is_unconfirmed_for_a_ttl(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=4, rate=50, seed=46)) as s:
        # As after a stall: the last renewal is a ttl old and a successor holds the lease.
        await s.h.redis.set(keys.lease("sim"), "successor", px=10_000)
        s.job.lease.valid_until = time.monotonic()
        since_ms = time.time() * 1000
        assert await asyncio.wait_for(s.task, 3) == "lease-lost"
        late = [t for t in (await s.h.board("sim")).values() if t["received_at"] > since_ms]
        assert late == [], "ticks were written while the lease was not confirmed"
