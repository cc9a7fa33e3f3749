"""Self-healing, live changes and bad input of the streaming job (real Redis, simulator)."""

from __future__ import annotations

import asyncio
import dataclasses

from service.keys import Keys
from service.simulator import Simulator
from tests.stream_harness import (
    Harness,
    Streaming,
    all_ticked,
    running,
    spec_for,
    streaming,
    wait_for,
)
from workers.states import StopReason


async def test_added_and_removed_symbols_follow_the_desired_state_without_a_reconnect(
    redis_url: str, keys: Keys
) -> None:
    async with Simulator(symbols=12, rate=20, seed=4) as sim, Harness(redis_url, keys) as h:
        first, later = sim.symbols[:8], sim.symbols[8:]
        await h.put_spec(spec_for(sim, first))
        job = h.job("sim")
        async with running(job):
            await wait_for(lambda: all_ticked(h, "sim", first), 10, "first symbols")
            connections = sim.state()["connections_total"]
            keep, drop = first[:6], first[6:]
            await h.put_spec(spec_for(sim, keep + later, generation=2))
            await wait_for(lambda: all_ticked(h, "sim", later), 5, "added symbols")
            await wait_for(lambda: _absent(h, drop), 5, "removed symbols gone from the store")
            before = {s: t["received_at"] for s, t in (await h.board("sim")).items() if s in keep}
            await asyncio.sleep(0.5)
            after = await h.board("sim")
            assert all(after[s]["received_at"] > before[s] for s in keep), "kept symbols froze"
            assert job.stats.reconnects == 0
            # the added group gets its own stream; the first connection was never dropped
            assert sim.state()["connections_total"] == connections + 1
            assert sim.state()["drops"] == 0
            assert set(job.heartbeat().symbols) == set(keep + later)


async def _absent(h: Harness, symbols: list[str]) -> bool:
    return not set(symbols) & set(await h.board("sim"))


async def test_dropped_connections_are_retried_and_ticks_resume(redis_url: str, keys: Keys) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=5, rate=20, seed=5)) as s:
        job = s.job
        for _ in range(2):
            await s.sim.drop()
            await wait_for(lambda: job.stats.reconnects > 0, 5, "a reconnect")
        mark = job.stats.ticks_total
        await wait_for(lambda: job.stats.ticks_total > mark + 20, 10, "ticks resume")
        assert job.state == "streaming"
        assert "NetworkError" in (job.stats.last_error or "")


async def test_a_stalled_feed_is_detected_and_rebuilt(redis_url: str, keys: Keys) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=5, rate=20, seed=6)) as s:
        job, sim = s.job, s.sim
        total_connections = sim.state()["connections_total"]
        sim.stall()
        await wait_for(lambda: job.state == "stale", 5, "stale detected")
        assert any(b.state == "stale" for b in s.h.heartbeats) or job.state == "stale"
        sim.resume()
        mark = job.stats.ticks_total
        await wait_for(lambda: job.stats.ticks_total > mark + 20, 10, "ticks resume")
        assert sim.state()["connections_total"] > total_connections, "no new connection"


async def test_symbols_the_exchange_does_not_list_are_reported_and_skipped(
    redis_url: str, keys: Keys
) -> None:
    sim = Simulator(symbols=4, rate=20, seed=7)
    async with streaming(redis_url, keys, sim, symbols=[*sim.symbols, "NOPE/USDT"]) as s:
        await wait_for(lambda: bool(s.h.heartbeats), 5, "a heartbeat")
        beat = s.job.heartbeat()
        assert beat.invalid_symbols == ["NOPE/USDT"]
        assert "NOPE/USDT" not in beat.symbols and beat.state == "streaming"


async def test_an_unknown_ccxt_id_fails_that_job_with_a_clear_error(
    redis_url: str, keys: Keys
) -> None:
    async with Simulator(symbols=2, rate=5, seed=8) as sim, Harness(redis_url, keys) as h:
        await h.put_spec(dataclasses.replace(spec_for(sim, sim.symbols), ccxt_id="nosuchx"))
        job = h.job("sim")
        async with running(job) as task:
            await wait_for(lambda: any(b.state == "failed" for b in h.heartbeats), 5, "failed")
            failed = next(b for b in h.heartbeats if b.state == "failed")
            assert "unknown ccxt exchange id 'nosuchx'" in (failed.last_error or "")
            assert not task.done(), "a failed job keeps retrying"


async def test_a_job_whose_lease_is_taken_over_stops_within_one_renewal(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=2, rate=5, seed=9)) as s:
        client = s.h.redis
        await client.set(keys.lease("sim"), "someone-else")
        assert await _reason_within_one_renewal(s) == "lease-lost"
        assert await client.get(keys.lease("sim")) == b"someone-else"


async def test_a_job_removed_from_the_desired_state_releases_its_lease_and_returns(
    redis_url: str, keys: Keys
) -> None:
    async with streaming(redis_url, keys, Simulator(symbols=2, rate=5, seed=10)) as s:
        await s.h.remove_spec("sim")
        assert await _reason_within_one_renewal(s) == "not-desired"
        assert await s.h.redis.get(keys.lease("sim")) is None
        assert s.h.heartbeats[-1].state == "stopped"


async def _reason_within_one_renewal(s: Streaming) -> StopReason:
    """Why the job stopped, which it must know by its next lease renewal (ttl/3)."""
    return await asyncio.wait_for(s.task, s.h.config.lease_ttl_s / 3 + 1.5)


async def test_rest_polling_stores_tickers_where_the_row_asks_for_it(
    redis_url: str, keys: Keys
) -> None:
    sim = Simulator(symbols=6, rate=20, seed=11)
    async with streaming(redis_url, keys, sim, mode="poll", poll_interval_s=0.2) as s:
        assert s.job.feed is not None and s.job.feed.method == "fetch_tickers"
        # The simulator's REST prices only move with websocket traffic: a repeated
        # poll shows as a newer received_at.
        first = (await s.h.board("sim"))["BTC/USDT"]["received_at"]
        await wait_for(lambda: _polled_again(s.h, first), 5, "a second poll")


async def _polled_again(h: Harness, received_at: int) -> bool:
    return (await h.board("sim"))["BTC/USDT"]["received_at"] > received_at


async def test_changed_ccxt_parameters_rebuild_the_client_on_the_new_endpoint(
    redis_url: str, keys: Keys
) -> None:
    async with (
        Simulator(symbols=4, rate=20, seed=13) as old,
        Simulator(symbols=4, rate=20, seed=14) as new,
        Harness(redis_url, keys) as h,
    ):
        await h.put_spec(spec_for(old, old.symbols))
        async with running(h.job("sim")):
            await wait_for(lambda: all_ticked(h, "sim", old.symbols), 10, "old endpoint")
            await h.put_spec(spec_for(new, new.symbols, generation=2))
            await wait_for(lambda: new.state()["connections"] > 0, 5, "new endpoint")
            await wait_for(lambda: old.state()["connections"] == 0, 5, "old closed")
            mark = new.feed.events_sent
            await wait_for(lambda: new.feed.events_sent > mark + 20, 5, "new ticks")


async def test_consecutive_failures_mark_the_job_failed_but_it_keeps_retrying(
    redis_url: str, keys: Keys
) -> None:
    async with Simulator(symbols=2, rate=5, seed=15) as sim, Harness(redis_url, keys) as h:
        dead = dataclasses.replace(
            spec_for(sim, sim.symbols),
            ccxt_params={**spec_for(sim, []).ccxt_params, "urls": _dead_urls()},
        )
        await h.put_spec(dead)
        job = h.job("sim")
        async with running(job) as task:
            failed = lambda: job.state == "failed"  # noqa: E731
            await wait_for(failed, 10, "failed after TICKER_MAX_RETRIES")
            assert job.stats.consecutive_failures >= h.config.max_retries
            assert "NetworkError" in (job.stats.last_error or "") or "Exchange" in (
                job.stats.last_error or ""
            )
            attempts = job.backoff.attempts
            await wait_for(lambda: job.backoff.attempts > attempts, 5, "a retry")
            assert not task.done()


def _dead_urls() -> dict:
    # Nothing listens on port 1: every connection is refused at once.
    return {
        "api": {
            "public": "http://127.0.0.1:1/api/v3",
            "private": "http://127.0.0.1:1/api/v3",
            "ws": {"spot": "ws://127.0.0.1:1/stream"},
        }
    }
