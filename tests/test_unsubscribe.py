"""Removed symbols stop arriving (issue 12, point 4): a real StreamJob, real Redis, and
the simulator's Binance and OKX protocols over real sockets, with the frames of each
symbol counted where they are sent."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest

from service.keys import Keys
from service.simulator import Simulator
from tests.stream_harness import FAST, Harness, all_ticked, running, spec_for, wait_for
from workers.stream_job import StreamJob

pytestmark = pytest.mark.parametrize("protocol", ["binance", "okx"])

RATE = 20  # frames/s per symbol: one every 50 ms
# The job reads the desired state every min(ttl/3, 1 s): a renewal period (1.5 s) above
# that wake-up shows the removal lands within one period, not one wake-up plus luck.
CONFIG = dataclasses.replace(FAST, lease_ttl_s=4.5, stale_after_s=3.0)
RENEW_S = CONFIG.lease_ttl_s / 3
LONGEST_GAP_S = 0.3  # six frame intervals: any rebuild or resubscription is longer


@dataclass
class Samples:
    """Per symbol, when its count of frames sent (at the simulator) and its board entry
    (in Redis) changed, sampled every few tens of milliseconds."""

    started: float
    ended: float = 0.0
    sent: dict[str, list[float]] = field(default_factory=dict)
    stored: dict[str, list[float]] = field(default_factory=dict)

    def longest_gap(self, changes: dict[str, list[float]], symbol: str) -> float:
        """The longest time without a change of ``symbol`` from start to end."""
        times = [self.started, *changes.get(symbol, []), self.ended]
        return max(b - a for a, b in itertools.pairwise(times))


async def sample(sim: Simulator, h: Harness, seconds: float) -> Samples:
    samples = Samples(started=time.monotonic())
    last_sent, last_stored = dict(sim.feed.events_sent_by_symbol), {}
    deadline = samples.started + seconds
    while (now := time.monotonic()) < deadline:
        stored = {s: t["received_at"] for s, t in (await h.board("sim")).items()}
        _note(samples.sent, last_sent, dict(sim.feed.events_sent_by_symbol), now)
        _note(samples.stored, last_stored, stored, now)
        last_sent, last_stored = dict(sim.feed.events_sent_by_symbol), stored
        await asyncio.sleep(0.02)
    samples.ended = time.monotonic()
    return samples


def _note(changes: dict[str, list[float]], before: dict, after: dict, now: float) -> None:
    for symbol, value in after.items():
        if before.get(symbol) != value:
            changes.setdefault(symbol, []).append(now)


@asynccontextmanager
async def job_streaming(
    redis_url: str, keys: Keys, protocol: str, symbols: list[str]
) -> AsyncIterator[tuple[Simulator, Harness, StreamJob]]:
    sim = Simulator(protocol, symbols=symbols, rate=RATE, seed=21)
    async with sim, Harness(redis_url, keys, config=CONFIG) as h:
        await h.put_spec(spec_for(sim, symbols))
        job = h.job("sim")
        async with running(job):
            await wait_for(lambda: all_ticked(h, "sim", symbols), 10, "every symbol")
            yield sim, h, job


SIX = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT"]
GONE = ["ETH/USDT", "XRP/USDT"]
KEPT = [s for s in SIX if s not in GONE]


async def test_removed_symbols_stop_arriving_within_a_renewal_and_the_others_never_pause(
    redis_url: str, keys: Keys, protocol: str
) -> None:
    async with job_streaming(redis_url, keys, protocol, SIX) as (sim, h, job):
        connections = sim.state()["connections_total"]
        edited = time.monotonic()
        await h.put_spec(spec_for(sim, KEPT, generation=2))
        samples = await sample(sim, h, RENEW_S + 1.0)
        board = await h.board("sim")

        for symbol in GONE:
            last_frame = samples.sent[symbol][-1] if symbol in samples.sent else edited
            assert last_frame - edited <= RENEW_S, f"{symbol} still sent {last_frame - edited:.2f}s"
        for symbol in KEPT:
            assert samples.longest_gap(samples.sent, symbol) < LONGEST_GAP_S, symbol
            assert samples.longest_gap(samples.stored, symbol) < LONGEST_GAP_S, symbol
        assert sorted(board) == sorted(KEPT)
        # no rebuild, no second connection: the same subscription carried on
        assert sim.state()["connections_total"] == connections and job.stats.reconnects == 0
        assert sim.state()["subscriptions"] == len(KEPT)


async def test_a_removed_symbol_added_again_is_subscribed_again_and_ticks(
    redis_url: str, keys: Keys, protocol: str
) -> None:
    async with job_streaming(redis_url, keys, protocol, SIX) as (sim, h, job):
        await h.put_spec(spec_for(sim, KEPT, generation=2))
        await wait_for(lambda: sim.state()["subscriptions"] == len(KEPT), 3, "unsubscribed")
        sent = sim.feed.events_sent_by_symbol["ETH/USDT"]
        await h.put_spec(spec_for(sim, [*KEPT, "ETH/USDT"], generation=3))

        def eth_sent() -> bool:
            return sim.feed.events_sent_by_symbol["ETH/USDT"] >= sent + 10

        await wait_for(eth_sent, 3, "ETH/USDT frames again")
        await wait_for(lambda: all_ticked(h, "sim", ["ETH/USDT"]), 2, "ETH/USDT stored again")
        assert sim.state()["subscriptions"] == len(KEPT) + 1
        assert job.stats.reconnects == 0
