"""The feed unsubscribes removed symbols on the connection that carries them: several
groups (connections on binance), one-symbol watches, and exchanges ccxt cannot
unwatch. A real ccxt client against the simulator over real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from service.simulator import Simulator
from tests.stream_harness import spec_for, wait_for
from workers import feed as feed_module
from workers.exchange_client import make_exchange
from workers.feed import Feed

SIX = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT"]
both_protocols = pytest.mark.parametrize("protocol", ["binance", "okx"])


@asynccontextmanager
async def feed_of(protocol: str, **has: bool) -> AsyncIterator[tuple[Simulator, Feed]]:
    """A simulator of ``SIX`` and an open feed of all six; ``has`` overrides ccxt's flags."""
    async with Simulator(protocol, symbols=SIX, rate=20, seed=5) as sim:
        spec = spec_for(sim, SIX)
        exchange = make_exchange(spec, {})
        exchange.has = {**exchange.has, **has}
        feed = Feed(exchange, spec, lambda symbols: None)
        try:
            await feed.open()
            await wait_for(lambda: set(sim.feed.events_sent_by_symbol) == set(SIX), 5, "six")
            yield sim, feed
        finally:
            await feed.close()


async def sending(sim: Simulator, seconds: float = 0.4) -> set[str]:
    """The symbols whose frames the simulator sent during the next ``seconds``."""
    before = dict(sim.feed.events_sent_by_symbol)
    await asyncio.sleep(seconds)
    return {s for s, n in sim.feed.events_sent_by_symbol.items() if n > before.get(s, 0)}


def subscriptions(sim: Simulator) -> Any:
    return sim.state()["subscriptions"]


async def test_binance_unsubscribes_each_groups_symbols_on_that_groups_own_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_module, "WATCH_GROUP_SIZE", 3)  # two groups: /stream/0 and /1
    async with feed_of("binance") as (sim, feed):
        assert sim.state()["connections"] == 2
        feed.remove(["ETH/USDT", "XRP/USDT"])  # one of each group
        await wait_for(lambda: subscriptions(sim) == 4, 2, "one unsubscribed per group")
        assert await sending(sim) == {"BTC/USDT", "SOL/USDT", "BNB/USDT", "ADA/USDT"}

        feed.remove(["BNB/USDT", "ADA/USDT"])  # what was left of the second group
        await wait_for(lambda: subscriptions(sim) == 2, 2, "the second group unsubscribed")
        assert await sending(sim) == {"BTC/USDT", "SOL/USDT"}
        await wait_for(lambda: len(feed._tasks) == 1, 2, "its reader to end")
        state = sim.state()
        assert (state["connections"], state["connections_total"]) == (2, 2)


@both_protocols
async def test_one_symbol_watches_are_unwatched_one_by_one(protocol: str) -> None:
    async with feed_of(protocol, watchTickers=False) as (sim, feed):
        assert feed.method == "watch_ticker"
        feed.remove(["SOL/USDT"])
        await wait_for(lambda: subscriptions(sim) == 5, 2, "SOL/USDT unsubscribed")
        assert await sending(sim) == set(SIX) - {"SOL/USDT"}

        feed.add(["SOL/USDT"])
        assert await sending(sim, 0.6) == set(SIX)


@both_protocols
async def test_where_ccxt_cannot_unwatch_removal_only_stops_the_symbol_being_read(
    protocol: str,
) -> None:
    async with feed_of(protocol, unWatchTickers=False) as (sim, feed):
        connections = sim.state()["connections_total"]
        feed.remove(["SOL/USDT"])
        await asyncio.sleep(0.3)
        # the documented fallback: the exchange keeps sending, the writer ignores it
        assert await sending(sim) == set(SIX)
        assert feed.active == set(SIX) - {"SOL/USDT"}
        assert sim.state()["connections_total"] == connections
        assert not feed._failed.done()  # nothing failed
