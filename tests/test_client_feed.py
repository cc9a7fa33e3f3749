"""ticker_client.subscribe against a real Redis: live ticks, filters, gaps announced and filled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis

from service.keys import Keys
from tests.client_helpers import tick, write
from ticker_client import Event, Gap, Tick, TickerClient


@pytest.fixture
async def client(redis_url: str, key_prefix: str) -> AsyncIterator[TickerClient]:
    name = f"test-client-{uuid.uuid4().hex[:8]}"
    async with TickerClient(redis_url, prefix=key_prefix, name=name) as reader:
        yield reader


async def next_event(feed: AsyncIterator[Event], timeout_s: float = 3.0) -> Event:
    return await asyncio.wait_for(anext(feed), timeout_s)


def kill_feed_connection(redis_client: redis.Redis, client: TickerClient) -> None:
    """CLIENT KILL the subscription's connection, found by its name."""
    ids = [c["id"] for c in redis_client.client_list() if c["name"] == f"{client.name}:feed"]
    assert len(ids) == 1, ids
    redis_client.client_kill_filter(_id=ids[0])


async def test_a_subscriber_sees_a_tick_within_a_second_of_the_writer_sending_it(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    async with client.subscribe(exchanges=["binance"]) as feed:
        sent = time.monotonic()
        await write(redis_url, keys, tick("binance", "BTC/USDT", 64000.0))
        event = await next_event(feed)
        elapsed = time.monotonic() - sent

    assert isinstance(event, Tick)
    assert (event.exchange, event.symbol, event.last, event.stale) == (
        "binance",
        "BTC/USDT",
        64000.0,
        False,
    )
    assert elapsed < 1.0


async def test_every_tick_of_a_batch_arrives_in_order_and_symbols_filter_them(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    async with client.subscribe(symbols=["BTC/USDT"]) as feed:  # every exchange
        await write(
            redis_url,
            keys,
            tick("binance", "BTC/USDT", 1.0),
            tick("binance", "ETH/USDT", 9.0),
            tick("binance", "BTC/USDT", 2.0),
            tick("okx", "BTC/USDT", 3.0),
        )
        seen = [await next_event(feed) for _ in range(3)]

    assert [(e.exchange, e.last) for e in seen if isinstance(e, Tick)] == [
        ("binance", 1.0),
        ("binance", 2.0),
        ("okx", 3.0),
    ]


async def test_a_killed_connection_is_announced_as_a_gap_then_filled_from_the_board(
    client: TickerClient, redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    async with client.subscribe(exchanges=["binance"]) as feed:
        await write(
            redis_url, keys, tick("binance", "BTC/USDT", 1.0), tick("binance", "SOL/USDT", 5.0)
        )
        assert isinstance(await next_event(feed), Tick)
        assert isinstance(await next_event(feed), Tick)
        kill_feed_connection(redis_client, client)
        # Written while the subscriber is cut off: the feed never delivers these.
        await asyncio.sleep(0.01)
        await write(
            redis_url, keys, tick("binance", "BTC/USDT", 2.0), tick("binance", "ETH/USDT", 7.0)
        )

        gap = await next_event(feed)
        refilled = [await next_event(feed), await next_event(feed)]
        # The feed goes on after the gap, without repeating the refilled ticks.
        await write(redis_url, keys, tick("binance", "BTC/USDT", 3.0))
        after = await next_event(feed)

    assert isinstance(gap, Gap)
    assert gap.exchanges == ("binance",) and "connection lost" in gap.reason
    assert gap.lost_at <= gap.resumed_at and gap.resumed_at_utc.tzinfo is not None
    # SOL/USDT did not change: it is not repeated. The other two are, newest state each.
    assert sorted((t.symbol, t.last) for t in refilled if isinstance(t, Tick)) == [
        ("BTC/USDT", 2.0),
        ("ETH/USDT", 7.0),
    ]
    assert isinstance(after, Tick) and after.last == 3.0


async def test_an_unreadable_message_is_a_gap_filled_from_the_board(
    client: TickerClient, redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    async with client.subscribe(exchanges=["okx"]) as feed:
        await write(redis_url, keys, tick("okx", "BTC/USDT", 1.0))
        assert isinstance(await next_event(feed), Tick)
        await write(redis_url, keys, tick("okx", "BTC/USDT", 2.0))
        await next_event(feed)
        redis_client.publish(keys.tick_channel("okx"), b"not json")
        gap = await next_event(feed)

    assert isinstance(gap, Gap) and "unreadable" in gap.reason


async def test_a_subscription_to_every_exchange_also_sees_one_that_appears_later(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    async with client.subscribe() as feed:
        await write(redis_url, keys, tick("brand-new", "BTC/USDT", 1.0))
        event = await next_event(feed)

    assert isinstance(event, Tick) and event.exchange == "brand-new"


async def test_run_calls_your_function_for_every_tick(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    seen: list[Tick] = []
    async with client.subscribe(exchanges=["okx"], symbols=["ETH/USDT"]) as feed:

        async def on_tick(t: Tick) -> None:
            seen.append(t)
            if len(seen) == 2:
                await feed.aclose()

        runner = asyncio.create_task(feed.run(on_tick))
        await write(redis_url, keys, tick("okx", "ETH/USDT", 1.0), tick("okx", "BTC/USDT", 2.0))
        await write(redis_url, keys, tick("okx", "ETH/USDT", 3.0))
        await asyncio.wait_for(runner, 3)

    assert [t.last for t in seen] == [1.0, 3.0]
