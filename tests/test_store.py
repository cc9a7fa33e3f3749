"""The tick store against a real Redis: batched writes, one-command reads, pub/sub, preference."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis
import redis.asyncio as aioredis

from service.cli import main
from service.keys import Keys
from service.store import TickReader, TickWriter
from tests.private_redis import private_redis
from workers.clock import now_ms
from workers.ticks import TICK_FIELDS


def tick(exchange: str, symbol: str, last: float, *, age_ms: int = 0) -> dict:
    now = now_ms()
    return {
        "exchange": exchange,
        "symbol": symbol,
        "bid": last - 1,
        "ask": last + 1,
        "last": last,
        "base_volume": 10.0,
        "quote_volume": 10.0 * last,
        "percentage": 1.5,
        "timestamp": now - age_ms - 3,
        "received_at": now - age_ms,
    }


def write(redis_url: str, keys: Keys, exchange: str, ticks: list[dict]) -> None:
    async def run() -> None:
        client = aioredis.Redis.from_url(redis_url)
        try:
            await TickWriter(client, keys).write(exchange, ticks)
        finally:
            await client.aclose()

    asyncio.run(run())


def test_a_batch_of_fifty_ticks_is_one_hset_one_sadd_and_one_publish() -> None:
    keys = Keys("count")
    with private_redis() as url:  # a server of its own: nobody else's commands in its stats
        write(url, keys, "alpha", [tick("alpha", f"C{i}/USDT", 100.0 + i) for i in range(50)])
        stats = redis.Redis.from_url(url).info("commandstats")
    assert {name: stats[f"cmdstat_{name}"]["calls"] for name in ("hset", "sadd", "publish")} == {
        "hset": 1,
        "sadd": 1,
        "publish": 1,
    }


def test_each_pair_and_each_board_reads_back_in_one_command(
    redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    write(redis_url, keys, "alpha", [tick("alpha", f"C{i}/USDT", 100.0 + i) for i in range(50)])
    reader = TickReader(redis_client, keys)
    one = reader.get("alpha", "C7/USDT")
    assert one is not None and one["last"] == 107.0 and one["stale"] is False
    assert set(one) >= set(TICK_FIELDS)
    board = reader.get_exchange("alpha")
    assert len(board) == 50 and board["C0/USDT"]["bid"] == 99.0
    assert reader.exchanges() == ["alpha"]
    assert reader.get("alpha", "NOPE/USDT") is None


def test_each_batch_is_published_for_subscribers(
    redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe(keys.tick_channel("alpha"))
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
    write(
        redis_url, keys, "alpha", [tick("alpha", "BTC/USDT", 1.0), tick("alpha", "ETH/USDT", 2.0)]
    )
    message = pubsub.get_message(timeout=2)
    pubsub.close()
    assert message is not None
    assert [t["symbol"] for t in json.loads(message["data"])] == ["BTC/USDT", "ETH/USDT"]


def test_get_price_prefers_the_first_fresh_exchange_and_flags_stale_ones(
    redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    write(redis_url, keys, "alpha", [tick("alpha", "BTC/USDT", 1.0, age_ms=60_000)])
    write(redis_url, keys, "beta", [tick("beta", "BTC/USDT", 2.0)])
    write(redis_url, keys, "gamma", [tick("gamma", "BTC/USDT", 3.0)])
    reader = TickReader(redis_client, keys, stale_after_s=30)
    assert reader.get_price("BTC/USDT", prefer=["gamma", "beta"])["exchange"] == "gamma"  # type: ignore[index]
    assert reader.get_price("BTC/USDT", prefer=["alpha", "beta"])["exchange"] == "beta"  # type: ignore[index]
    assert reader.get_price("BTC/USDT")["exchange"] == "beta"  # type: ignore[index]
    redis_client.hdel(keys.board("beta"), "BTC/USDT")
    redis_client.hdel(keys.board("gamma"), "BTC/USDT")
    only_stale = reader.get_price("BTC/USDT", prefer=["beta"])
    assert only_stale is not None and only_stale["exchange"] == "alpha" and only_stale["stale"]
    assert reader.get_price("NOPE/USDT") is None


def test_removed_symbols_leave_the_board(
    redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    write(
        redis_url, keys, "alpha", [tick("alpha", "BTC/USDT", 1.0), tick("alpha", "ETH/USDT", 2.0)]
    )

    async def remove() -> None:
        client = aioredis.Redis.from_url(redis_url)
        await TickWriter(client, keys).remove("alpha", ["ETH/USDT"])
        await client.aclose()

    asyncio.run(remove())
    assert list(TickReader(redis_client, keys).get_exchange("alpha")) == ["BTC/USDT"]


def test_the_price_command_prints_a_tick_or_says_there_is_none(
    redis_url: str,
    keys: Keys,
    key_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)
    write(redis_url, keys, "alpha", [tick("alpha", "BTC/USDT", 42.0)])
    assert main(["price", "BTC/USDT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["last"] == 42.0
    assert main(["price", "BTC/USDT", "--exchange", "alpha"]) == 0
    assert "last 42.0" in capsys.readouterr().out
    assert main(["price", "ETH/USDT"]) == 1
    assert "no tick stored for ETH/USDT" in capsys.readouterr().out
