"""ticker_client's reads against a real Redis, with ticks written by the service's TickWriter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from service.keys import Keys
from tests.client_helpers import tick, write
from ticker_client import InvalidArgument, NotFound, Tick, TickerClient
from workers.ticks import TICK_FIELDS


@pytest.fixture
async def client(redis_url: str, key_prefix: str) -> AsyncIterator[TickerClient]:
    async with TickerClient(redis_url, prefix=key_prefix, stale_after_s=30) as reader:
        yield reader


def test_a_tick_has_exactly_the_stored_fields_then_stale() -> None:
    names = [name for name in Tick.__dataclass_fields__]
    assert names == [*TICK_FIELDS, "stale"]


async def test_get_returns_a_typed_tick_with_utc_datetimes(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    written = tick("binance", "BTC/USDT", 64000.5)
    await write(redis_url, keys, written)

    got = await client.get("binance", "BTC/USDT")

    assert got.to_dict() == {**written, "stale": False}
    assert got.received_at_utc == datetime.fromtimestamp(written["received_at"] / 1000, UTC)
    assert got.received_at_utc.tzinfo is UTC
    assert got.timestamp_utc is not None and got.timestamp_utc < got.received_at_utc
    assert got.high is None  # a field the exchange did not give


async def test_get_of_a_pair_nobody_stores_raises_not_found_naming_it(
    client: TickerClient,
) -> None:
    with pytest.raises(NotFound, match="ETH/USDT on kraken"):
        await client.get("kraken", "ETH/USDT")


async def test_board_lists_an_exchanges_ticks_by_symbol_and_exchanges_names_them(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    await write(
        redis_url,
        keys,
        tick("okx", "SOL/USDT", 150.0),
        tick("okx", "BTC/USDT", 64000.0),
        tick("binance", "BTC/USDT", 64001.0),
    )

    board = await client.board("okx")

    assert list(board) == ["BTC/USDT", "SOL/USDT"]
    assert board["SOL/USDT"].last == 150.0
    assert await client.exchanges() == ["binance", "okx"]
    with pytest.raises(NotFound, match="exchange kraken"):
        await client.board("kraken")


async def test_a_tick_older_than_stale_after_is_flagged_stale(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    await write(
        redis_url, keys, tick("okx", "OLD/USDT", 1.0, age_s=31), tick("okx", "NEW/USDT", 2.0)
    )

    board = await client.board("okx")

    assert board["OLD/USDT"].stale is True
    assert board["NEW/USDT"].stale is False


async def test_price_takes_the_first_fresh_tick_in_preference_order(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    await write(
        redis_url,
        keys,
        tick("binance", "BTC/USDT", 1.0, age_s=60),  # preferred first, but stale
        tick("okx", "BTC/USDT", 2.0),
        tick("bybit", "BTC/USDT", 3.0),
    )

    assert (await client.price("BTC/USDT", prefer=["binance", "okx"])).exchange == "okx"
    assert (await client.price("BTC/USDT", prefer=["bybit"])).exchange == "bybit"
    # No preference: exchanges by name, first fresh (binance is stale).
    assert (await client.price("BTC/USDT")).exchange == "bybit"
    # A preferred exchange without the symbol is passed over.
    assert (await client.price("BTC/USDT", prefer=["kraken", "okx"])).exchange == "okx"


async def test_price_falls_back_to_the_freshest_stale_tick_flagged_stale(
    client: TickerClient, redis_url: str, keys: Keys
) -> None:
    await write(
        redis_url,
        keys,
        tick("binance", "ETH/USDT", 1.0, age_s=120),
        tick("okx", "ETH/USDT", 2.0, age_s=45),
    )

    best = await client.price("ETH/USDT", prefer=["binance"])

    assert (best.exchange, best.stale) == ("okx", True)
    with pytest.raises(NotFound, match="DOGE/USDT"):
        await client.price("DOGE/USDT")


async def test_bad_arguments_are_named(client: TickerClient, redis_url: str) -> None:
    with pytest.raises(InvalidArgument, match="prefer='binance'"):
        await client.price("BTC/USDT", prefer="binance")
    with pytest.raises(InvalidArgument, match="exchange=''"):
        await client.get("", "BTC/USDT")
    with pytest.raises(InvalidArgument, match="symbols=\\[\\]"):
        client.subscribe(symbols=[])
    with pytest.raises(InvalidArgument, match="stale_after_s"):
        TickerClient(redis_url, stale_after_s=0)
    with pytest.raises(InvalidArgument, match="STALE_AFTER_S"):
        TickerClient.from_env({"STALE_AFTER_S": "soon"})
