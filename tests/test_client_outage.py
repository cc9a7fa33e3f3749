"""The feed across real outages: a Redis that restarts, one that stays away, one that hangs."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis

from service.devrun.ports import free_port
from service.devrun.redis_server import find_redis_server
from service.keys import Keys
from tests.client_helpers import tick, write
from ticker_client import ConnectionLost, Gap, Tick, TickerClient
from ticker_client import feed as feed_module

KEYS = Keys("ticker")


class RestartableRedis:
    """A private redis-server on a fixed port that can be stopped and started again."""

    def __init__(self, folder: str) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.folder = folder
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [find_redis_server(), "--bind", "127.0.0.1", "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--dir", self.folder]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not answer")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def restartable_redis() -> Iterator[RestartableRedis]:
    with tempfile.TemporaryDirectory(prefix="ticker-client-test-") as folder:
        server = RestartableRedis(folder)
        server.start()
        try:
            yield server
        finally:
            server.stop()


async def test_a_redis_restart_is_a_gap_then_the_new_boards_fill_it() -> None:
    with restartable_redis() as server:
        async with TickerClient(server.url) as client, client.subscribe(["binance"]) as feed:
            await write(server.url, KEYS, tick("binance", "BTC/USDT", 1.0))
            assert isinstance(await asyncio.wait_for(anext(feed), 3), Tick)
            server.stop()
            reading = asyncio.create_task(anext(feed))
            await asyncio.sleep(0.5)  # it keeps retrying while Redis is away
            assert not reading.done()
            server.start()  # empty, like a Redis without persistence
            await write(server.url, KEYS, tick("binance", "BTC/USDT", 2.0))
            gap = await asyncio.wait_for(reading, 10)
            after = await asyncio.wait_for(anext(feed), 3)

    assert isinstance(gap, Gap) and gap.attempts > 1 and gap.duration_s >= 0.5
    assert isinstance(after, Tick) and after.last == 2.0


async def test_a_redis_that_stays_away_ends_the_feed_with_connection_lost() -> None:
    with restartable_redis() as server:
        async with TickerClient(server.url) as client:
            feed = client.subscribe(["binance"], give_up_after_s=0.5)
            await feed.start()
            server.stop()
            started = time.monotonic()
            with pytest.raises(ConnectionLost, match="stayed down"):
                await asyncio.wait_for(anext(feed), 10)
            await feed.aclose()

    assert time.monotonic() - started < 5


async def test_a_connection_that_hangs_is_noticed_by_ping_and_announced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_module, "PING_AFTER_S", 0.3)
    monkeypatch.setattr(feed_module, "DEAD_AFTER_S", 1.0)
    with restartable_redis() as server:
        admin = redis.Redis.from_url(server.url)
        async with TickerClient(server.url) as client, client.subscribe(["okx"]) as feed:
            admin.execute_command("CLIENT", "PAUSE", "1500", "ALL")  # nothing answers meanwhile
            gap = await asyncio.wait_for(anext(feed), 10)
        admin.close()

    assert isinstance(gap, Gap) and "PING" in gap.reason
