"""The sync twin: the same reads and the feed from blocking code, on a real Redis."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from service.keys import Keys
from tests.client_helpers import tick, write
from ticker_client import ConnectionLost, NotFound, SyncTickerClient, Tick


@pytest.fixture
def client(redis_url: str, key_prefix: str) -> Iterator[SyncTickerClient]:
    with SyncTickerClient(redis_url, prefix=key_prefix) as reader:
        yield reader


def test_the_sync_twin_reads_what_the_writer_wrote(
    client: SyncTickerClient, redis_url: str, keys: Keys
) -> None:
    asyncio.run(
        write(redis_url, keys, tick("okx", "BTC/USDT", 2.0), tick("binance", "BTC/USDT", 1.0))
    )

    assert client.get("okx", "BTC/USDT").last == 2.0
    assert client.price("BTC/USDT", prefer=["okx"]).exchange == "okx"
    assert list(client.board("binance")) == ["BTC/USDT"]
    assert client.exchanges() == ["binance", "okx"]
    assert client.health().jobs == ()
    with pytest.raises(NotFound):
        client.get("okx", "ETH/USDT")


def test_the_sync_feed_yields_ticks_written_by_another_thread(
    client: SyncTickerClient, redis_url: str, keys: Keys
) -> None:
    with client.subscribe(exchanges=["okx"]) as feed:
        writer = threading.Thread(
            target=lambda: asyncio.run(write(redis_url, keys, tick("okx", "SOL/USDT", 3.0)))
        )
        writer.start()
        event = next(iter(feed))
        writer.join()

    assert isinstance(event, Tick) and event.symbol == "SOL/USDT"


def test_a_redis_that_does_not_answer_raises_connection_lost() -> None:
    with SyncTickerClient("redis://127.0.0.1:1/0") as client:
        with pytest.raises(ConnectionLost, match="reading the exchanges"):
            client.exchanges()
        with pytest.raises(ConnectionLost, match="subscribing"):
            client.subscribe().__enter__()
