"""ccxt's own fetch_ohlcv and fetch_trades against the simulator's history over real sockets:
they return exactly the truth (service.simulator.history); the weight budget answers 429,
then 418; a failed page asked again answers the same."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import ccxt
import pytest

from service.history.records import MINUTE_MS, Candle, Trade
from service.simulator.history import HOUR_MS, first_id_at, klines_between, trades_between
from service.simulator.testing import SimulatorProcess, SimulatorThread
from workers.clock import now_ms

SYMBOL = "BTC/USDT"


@pytest.fixture
def binance() -> Iterator[SimulatorThread]:
    with SimulatorThread("binance", symbols=3) as sim:
        yield sim


@pytest.fixture
def okx() -> Iterator[SimulatorThread]:
    with SimulatorThread("okx", symbols=3) as sim:
        yield sim


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def hours_ago(hours: int) -> int:
    """The start of the UTC hour ``hours`` before the current one."""
    now = now_ms()
    return now - now % HOUR_MS - hours * HOUR_MS


def as_candles(rows: list[list[Any]]) -> list[Candle]:
    return [Candle(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def as_trades(rows: list[dict[str, Any]]) -> list[Trade]:
    return [Trade(r["id"], r["timestamp"], r["price"], r["amount"], r["side"]) for r in rows]


async def test_binance_fetch_ohlcv_pages_return_exactly_the_klines_of_the_range(
    binance: SimulatorThread,
) -> None:
    start, end = hours_ago(22), hours_ago(2)
    got: list[Candle] = []
    async with binance.exchange(rest=True) as exchange:
        since = start
        while since < end:
            page = as_candles(await exchange.fetch_ohlcv(SYMBOL, "1m", since, 1000))
            got += [c for c in page if c.open_time < end]
            since = page[-1].open_time + MINUTE_MS
    truth = klines_between(SYMBOL, start, end)
    assert len(truth) > 1000  # two pages at least
    assert got == truth


async def test_binance_fetch_trades_by_from_id_chain_the_ids_of_the_range(
    binance: SimulatorThread,
) -> None:
    start, end = hours_ago(4), hours_ago(2)
    got: list[Trade] = []
    async with binance.exchange(rest=True) as exchange:
        first = await exchange.fetch_trades(SYMBOL, start, 1)
        next_id = int(first[0]["id"])
        while not got or got[-1].timestamp < end:
            page = await exchange.fetch_trades(SYMBOL, None, 1000, {"fromId": next_id})
            got += as_trades(page)
            next_id = int(page[-1]["id"]) + 1
    truth = trades_between(SYMBOL, start, end)
    assert [t for t in got if t.timestamp < end] == truth
    assert int(truth[0].id) == first_id_at(SYMBOL, start)


async def test_binance_fetch_trades_since_serves_the_first_trades_of_that_hour(
    binance: SimulatorThread,
) -> None:
    since = hours_ago(3) + 17 * MINUTE_MS
    async with binance.exchange(rest=True) as exchange:
        page = as_trades(await exchange.fetch_trades(SYMBOL, since, 1000))
        again = as_trades(await exchange.fetch_trades(SYMBOL, since, 1000))
    assert page == again == trades_between(SYMBOL, since, since + HOUR_MS + 1)[:1000]


async def test_binance_history_answers_carry_the_used_weight_and_refuse_bad_requests(
    binance: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    start = hours_ago(3)
    url = f"{binance.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={start}&limit=5"
    async with http.get(url) as first, http.get(url) as second:
        assert await first.json() == await second.json()
        used = int(second.headers["X-MBX-USED-WEIGHT-1M"])
        assert used == int(first.headers["X-MBX-USED-WEIGHT-1M"]) + 2
    row = (await first.json())[0]
    assert len(row) == 12 and row[6] == row[0] + MINUTE_MS - 1 and isinstance(row[1], str)
    span = f"startTime={start}&endTime={start + HOUR_MS + 1}"
    agg = f"{binance.url}/api/v3/aggTrades?symbol=BTCUSDT&{span}"
    async with http.get(agg) as answer:
        assert answer.status == 400 and (await answer.json())["code"] == -1127
    async with http.get(
        f"{binance.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5000"
    ) as answer:
        assert len(await answer.json()) == 1000  # the newest, capped as Binance caps
    first_id = first_id_at(SYMBOL, start)
    historical = f"{binance.url}/api/v3/historicalTrades?symbol=BTCUSDT&fromId={first_id}&limit=3"
    async with http.get(historical) as answer:
        assert [row["id"] for row in await answer.json()] == [first_id + i for i in range(3)]
        assert int(answer.headers["X-MBX-USED-WEIGHT-1M"]) == used + 2 + 2 + 25  # aggTrades, klines
    async with http.get(f"{binance.url}/api/v3/klines?symbol=NOPE&interval=1m") as answer:
        assert (await answer.json())["code"] == -1121


async def test_okx_fetch_ohlcv_from_candles_and_history_candles_return_the_truth(
    okx: SimulatorThread,
) -> None:
    start, end = hours_ago(5), hours_ago(2)
    truth = klines_between(SYMBOL, start, end)
    async with okx.exchange(rest=True) as exchange:
        for params in ({}, {"type": "HistoryCandles"}):
            got: list[Candle] = []
            since = start
            while since < end:
                rows = await exchange.fetch_ohlcv(SYMBOL, "1m", since, 100, params)
                got += [c for c in as_candles(rows) if c.open_time < end]
                since = int(rows[-1][0]) + MINUTE_MS
            assert got == truth, params


async def test_okx_history_trades_paginate_backwards_by_trade_id_to_the_truth(
    okx: SimulatorThread,
) -> None:
    start, end = hours_ago(3), hours_ago(3) + 20 * MINUTE_MS  # 6 pages: ccxt waits 110 ms a call
    truth = trades_between(SYMBOL, start, end)
    after, got = first_id_at(SYMBOL, end), []
    async with okx.exchange(rest=True) as exchange:
        while not got or got[0].timestamp >= start:
            params = {"method": "publicGetMarketHistoryTrades", "after": after}
            page = as_trades(await exchange.fetch_trades(SYMBOL, None, 100, params))
            got = page + got
            after = int(page[0].id)
    assert [t for t in got if t.timestamp >= start] == truth


async def test_binance_over_the_budget_answers_429_then_418_to_a_client_that_ignores_it(
    binance: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    binance.client.set_budget(10, window_s=3600, ban_after=1, ban_s=60)
    url = f"{binance.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1"
    statuses, retry = [], []
    for _ in range(8):
        async with http.get(url) as answer:
            statuses.append(answer.status)
            retry.append(answer.headers.get("Retry-After"))
    assert statuses == [200] * 5 + [429, 429, 418]
    assert retry[5] is not None and 0 < int(retry[5]) <= 3600 and int(retry[7]) <= 60
    async with binance.exchange(rest=True) as exchange:
        with pytest.raises(ccxt.DDoSProtection):
            await exchange.fetch_ohlcv(SYMBOL, "1m", None, 1)
    counts = binance.client.endpoint_counts("klines")
    assert counts["weight"] == 10 and counts["limited"] == 2 and counts["banned"] == 1
    assert binance.client.max_window_weight() <= 10
    binance.client.set_budget(None)  # lifts the ban
    async with http.get(url) as answer:
        assert answer.status == 200


async def test_okx_over_the_budget_answers_50011_with_http_429(
    okx: SimulatorThread,
) -> None:
    okx.client.set_budget(2, window_s=3600)
    async with okx.exchange(rest=True) as exchange:
        await exchange.load_markets()  # one request
        await exchange.fetch_trades(SYMBOL, None, 10)
        with pytest.raises(ccxt.RateLimitExceeded):
            await exchange.fetch_trades(SYMBOL, None, 10)
    assert okx.client.endpoint_counts("market/trades")["limited"] == 1


async def test_a_failed_page_asked_again_answers_the_same_truth(
    binance: SimulatorThread,
) -> None:
    binance.client.set_faults(every=2)
    since = hours_ago(30)  # a full page of 1000 klines, all closed
    truth = klines_between(SYMBOL, since, since + 2000 * MINUTE_MS)[:1000]
    async with binance.exchange(rest=True) as exchange:
        first = as_candles(await exchange.fetch_ohlcv(SYMBOL, "1m", since, 1000))
        with pytest.raises(ccxt.OperationFailed, match="-1000"):  # HTTP 500
            await exchange.fetch_ohlcv(SYMBOL, "1m", since, 1000)
        again = as_candles(await exchange.fetch_ohlcv(SYMBOL, "1m", since, 1000))
    assert first == again == truth
    faults = binance.client.state()["faults"]
    assert faults["failed"] == 1 and faults["history_requests"] == 3
    assert binance.client.endpoint_counts("klines")["failed"] == 1


def test_the_cli_flags_set_the_budget_and_the_faults() -> None:
    with SimulatorProcess("binance", symbols=2, weight_budget=600, fail_every=7) as sim:
        state = sim.client.state()
    assert state["budget"]["weight"] == 600 and state["budget"]["window_s"] == 60
    assert state["faults"]["every"] == 7


async def test_bad_budget_or_fault_values_are_refused_naming_the_value(
    binance: SimulatorThread, http: aiohttp.ClientSession
) -> None:
    for path, named in (
        ("/_sim/budget?weight=-1", "weight=-1"),
        ("/_sim/budget?weight=5&window=abc", "window='abc'"),
        ("/_sim/faults?every=2&status=404", "statuses=[404]"),
    ):
        async with http.post(binance.url + path) as answer:
            assert answer.status == 400
            assert named in (await answer.json())["error"]
    assert binance.client.budget()["weight"] is None  # nothing changed
