"""The client's cost: ``get()``/``price()`` latency and pub/sub delivery next to bare redis-py.

Reads: 3 exchanges x 100 symbols are stored as the service stores them; the
async ``TickerClient`` then calls ``get`` and ``price`` (fresh preferred
exchange: one round trip; preferred exchanges stale: two) one at a time, and
each call is timed from the caller's side (decode and typed ``Tick``
included). A bare ``HGET`` + ``orjson.loads`` and the ``SyncTickerClient``
twin are measured the same way for comparison.

Feed: a publisher process sends batches of ticks (one JSON array each, as the
service's writer does) as fast as it can; in alternating rounds either the
client's ``subscribe()`` or a bare ``redis.asyncio`` subscriber (``get_message``
plus ``orjson.loads``) receives them. Rate = ticks received / time from the
first message to the last; every tick must arrive.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from bench.common import RedisSpace, goal, quantile, round_order, table
from ticker_client import SyncTickerClient, Tick, TickerClient
from workers.clock import now_ms
from workers.ticks import FROM_CCXT, to_tick

EXCHANGES = ("alpha", "beta", "gamma")
SYMBOLS = 100
BATCH = 20  # ticks per published message


@dataclass(frozen=True)
class Plan:
    calls: int
    messages: int
    rounds: int


PLANS = {
    "full": Plan(calls=20_000, messages=2_000, rounds=3),
    "quick": Plan(calls=3_000, messages=1_000, rounds=1),
    "tiny": Plan(calls=200, messages=50, rounds=1),
}


def sample_tick(exchange: str, symbol: str, received_at: int) -> dict[str, Any]:
    """A tick with every field set, as a worker stores it."""
    ccxt = {source: 100.0 + index for index, source in enumerate(FROM_CCXT.values())}
    ccxt["timestamp"] = received_at - 3
    return to_tick(exchange, symbol, ccxt, received_at)


def symbol_name(index: int) -> str:
    return f"S{index:03d}/USDT"


def seed(space: RedisSpace, stale_exchanges: tuple[str, ...]) -> None:
    """Boards of every exchange; ``stale_exchanges`` hold ticks a minute old."""
    now = now_ms()
    pipe = space.client.pipeline(transaction=False)
    for exchange in EXCHANGES:
        at = now - 60_000 if exchange in stale_exchanges else now
        board = {
            symbol_name(i): orjson.dumps(sample_tick(exchange, symbol_name(i), at))
            for i in range(SYMBOLS)
        }
        pipe.hset(space.keys.board(exchange), mapping=board)  # type: ignore[arg-type]
        pipe.sadd(space.keys.exchanges(), exchange)
    pipe.execute()


# -- reads ---------------------------------------------------------------------------


async def timed(call: Callable[[int], Awaitable[Any]], calls: int) -> list[float]:
    """Milliseconds of each of ``calls`` sequential calls, after a warm-up."""
    for index in range(min(100, calls)):
        await call(index)
    spent = []
    for index in range(calls):
        started = time.perf_counter_ns()
        await call(index)
        spent.append((time.perf_counter_ns() - started) / 1e6)
    return sorted(spent)


async def read_latencies(space: RedisSpace, plan: Plan) -> dict[str, list[float]]:
    bare = aioredis.Redis.from_url(space.url)
    board = space.keys.board(EXCHANGES[0])

    async def bare_get(i: int) -> Any:
        return orjson.loads(await bare.hget(board, symbol_name(i % SYMBOLS)))  # type: ignore[arg-type]

    found: dict[str, list[float]] = {}
    async with TickerClient(space.url, prefix=space.prefix) as client:
        seed(space, stale_exchanges=())
        found["bare redis-py HGET + orjson"] = await timed(bare_get, plan.calls)
        found["client get()"] = await timed(
            lambda i: client.get(EXCHANGES[0], symbol_name(i % SYMBOLS)), plan.calls
        )
        found["client price(), preferred fresh"] = await timed(
            lambda i: client.price(symbol_name(i % SYMBOLS), prefer=EXCHANGES[1:]), plan.calls
        )
        seed(space, stale_exchanges=EXCHANGES[1:])
        found["client price(), preferred stale"] = await timed(
            lambda i: client.price(symbol_name(i % SYMBOLS), prefer=EXCHANGES[1:]), plan.calls
        )
    await bare.aclose()
    return found


def sync_latencies(space: RedisSpace, plan: Plan) -> list[float]:
    seed(space, stale_exchanges=())
    spent = []
    with SyncTickerClient(space.url, prefix=space.prefix) as client:
        for index in range(plan.calls):
            started = time.perf_counter_ns()
            client.get(EXCHANGES[0], symbol_name(index % SYMBOLS))
            spent.append((time.perf_counter_ns() - started) / 1e6)
    return sorted(spent)


# -- the feed ------------------------------------------------------------------------


def publish(url: str, channel: str, messages: int) -> None:
    """Publisher process: ``messages`` batches of BATCH ticks, pipelined 50 at a time."""
    client = redis.Redis.from_url(url)
    for start in range(0, messages, 50):
        pipe = client.pipeline(transaction=False)
        for number in range(start, min(messages, start + 50)):
            ticks = [sample_tick("alpha", symbol_name(i), now_ms()) for i in range(BATCH)]
            ticks[0]["last"] = number
            pipe.publish(channel, orjson.dumps(ticks))
        pipe.execute()
    client.close()


async def client_receives(space: RedisSpace, plan: Plan) -> tuple[int, float, int]:
    """(ticks, seconds from first to last message, gaps) through ``subscribe()``."""
    wanted, got, gaps, first = plan.messages * BATCH, 0, 0, 0.0
    async with (
        TickerClient(space.url, prefix=space.prefix) as client,
        client.subscribe(exchanges=["alpha"]) as feed,
    ):
        publisher = _start_publisher(space, plan)
        async for event in feed:
            if isinstance(event, Tick):
                first = first or time.perf_counter()
                got += 1
            else:
                gaps += 1
            if got >= wanted:
                break
    publisher.join(30)
    return got, time.perf_counter() - first, gaps


async def bare_receives(space: RedisSpace, plan: Plan) -> tuple[int, float, int]:
    """The same with a bare redis.asyncio subscriber that parses each array."""
    wanted, got, first = plan.messages * BATCH, 0, 0.0
    client = aioredis.Redis.from_url(space.url)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(space.keys.tick_channel("alpha"))
    await pubsub.get_message(timeout=1)  # the confirmation
    publisher = _start_publisher(space, plan)
    while got < wanted:
        message = await pubsub.get_message(timeout=5)
        if message is None:
            break  # lost: reported as fewer ticks
        first = first or time.perf_counter()
        got += len(orjson.loads(message["data"]))
    elapsed = time.perf_counter() - first
    publisher.join(30)
    await pubsub.aclose()
    await client.aclose()
    return got, elapsed, 0


def _start_publisher(space: RedisSpace, plan: Plan) -> Any:
    args = (space.url, space.keys.tick_channel("alpha"), plan.messages)
    process = multiprocessing.get_context("fork").Process(target=publish, args=args)
    process.start()
    return process


def feed_rates(space: RedisSpace, plan: Plan) -> dict[str, dict[str, float]]:
    totals = {"client": [0, 0.0, 0], "bare": [0, 0.0, 0]}
    for index in range(plan.rounds):
        for who in round_order(index):  # ("service", "bare") alternated
            receive = client_receives if who == "service" else bare_receives
            got, seconds, gaps = asyncio.run(receive(space, plan))
            name = "client" if who == "service" else "bare"
            totals[name] = [
                totals[name][0] + got,
                totals[name][1] + seconds,
                totals[name][2] + gaps,
            ]
    sent = plan.messages * BATCH * plan.rounds
    return {
        name: {"ticks": got, "sent": sent, "ticks_per_s": got / seconds, "gaps": gaps}
        for name, (got, seconds, gaps) in totals.items()
    }


# -- report --------------------------------------------------------------------------


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    plan = PLANS[mode]
    reads = asyncio.run(read_latencies(space, plan))
    reads["sync twin get()"] = sync_latencies(space, plan)
    rows = [_row(name, spent) for name, spent in reads.items()]
    feed = feed_rates(space, plan)
    by_name = {row["call"]: row for row in rows}
    return {
        "plan": plan.__dict__,
        "summary": rows,
        "feed": feed,
        "goals": [
            goal("client get() p99 ms", by_name["client get()"]["p99_ms"], 1.0, at_least=False),
            goal(
                "client price() p99 ms (preferred fresh)",
                by_name["client price(), preferred fresh"]["p99_ms"],
                1.0,
                at_least=False,
            ),
        ],
        "table": render(rows, feed),
    }


def _row(name: str, spent: list[float]) -> dict[str, Any]:
    return {
        "call": name,
        "calls": len(spent),
        "p50_ms": quantile(spent, 0.50),
        "p99_ms": quantile(spent, 0.99),
        "max_ms": spent[-1] if spent else float("nan"),
    }


def render(rows: list[dict[str, Any]], feed: dict[str, dict[str, float]]) -> str:
    reads = table(
        ["call", "calls", "p50 ms", "p99 ms", "max ms"],
        [[r["call"], r["calls"], r["p50_ms"], r["p99_ms"], r["max_ms"]] for r in rows],
    )
    feeds = table(
        ["subscriber", "ticks received / sent", "ticks/s", "gaps"],
        [[name, f"{f['ticks']:,} / {f['sent']:,}", f["ticks_per_s"], f["gaps"]]
         for name, f in feed.items()],
    )  # fmt: skip
    return f"{reads}\n\n{feeds}"
