"""The simulator's Binance spot protocol, driven by ccxt's real clients over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support
import ccxt.pro
import pytest

from service.simulator import ccxt_params
from tests.sim_helpers import SimulatorProcess, SimulatorThread, count_ticker_updates

WATCHED = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "C0001/USDT"]
FULL = {"name": "ticker"}  # the 24hrTicker channel, with bid and ask


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread("binance", symbols=25, rate=20, seed=7) as running:
        yield running


@asynccontextmanager
async def binance(sim: SimulatorThread | SimulatorProcess) -> AsyncIterator[Any]:
    exchange = ccxt.pro.binance(ccxt_params("binance", sim.host, sim.port))
    try:
        yield exchange
    finally:
        await exchange.close()


async def ticks_for(exchange: Any, seconds: float, symbols: list[str] = WATCHED) -> dict[str, int]:
    return await count_ticker_updates(exchange, symbols, seconds, FULL)


def test_ccxt_loads_every_spot_market_from_the_simulator(sim: SimulatorThread) -> None:
    async def scenario() -> dict[str, Any]:
        async with binance(sim) as exchange:
            return dict(await exchange.load_markets())

    markets = asyncio.run(scenario())
    assert sorted(markets) == sorted(sim.sim.symbols)
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["type"], btc["active"], btc["spot"]) == ("BTCUSDT", "spot", True, True)
    assert markets["C0001/USDT"]["id"] == "C0001USDT"


def test_watch_tickers_gives_bid_ask_last_and_the_send_time_as_timestamp(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with binance(sim) as exchange:
            received = []
            for _ in range(8):
                for ticker in (await exchange.watch_tickers(WATCHED, FULL)).values():
                    received.append({**ticker, "received": time.time() * 1000})
            return received

    received = asyncio.run(scenario())
    assert {t["symbol"] for t in received} == set(WATCHED)
    for ticker in received:
        assert ticker["bid"] < ticker["last"] < ticker["ask"]
        assert ticker["timestamp"] == ticker["info"]["E"] == ticker["info"]["C"]
        assert 0 <= ticker["received"] - ticker["timestamp"] < 1000
        assert ticker["baseVolume"] > 0 and ticker["percentage"] is not None


def test_watch_tickers_on_the_default_mini_ticker_channel_has_last_but_no_bid(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> dict[str, Any]:
        async with binance(sim) as exchange:
            return dict(await exchange.watch_tickers(["ETH/USDT"]))

    ticker = asyncio.run(scenario())["ETH/USDT"]
    assert ticker["info"]["e"] == "24hrMiniTicker"
    assert ticker["last"] > 0 and ticker["bid"] is None


def test_fetch_tickers_over_rest_returns_what_the_simulator_holds(sim: SimulatorThread) -> None:
    async def scenario() -> dict[str, Any]:
        exchange = ccxt.async_support.binance(ccxt_params("binance", sim.host, sim.port))
        try:
            return {
                "some": await exchange.fetch_tickers(WATCHED[:2]),
                "all": await exchange.fetch_tickers(),
                "one": await exchange.fetch_ticker("SOL/USDT"),
            }
        finally:
            await exchange.close()

    fetched = asyncio.run(scenario())
    held = sim.client.last()  # nothing streams here, so nothing moved since the fetch
    assert sorted(fetched["some"]) == sorted(WATCHED[:2])
    assert len(fetched["all"]) == len(sim.sim.symbols)
    for symbol, ticker in [*fetched["all"].items(), ("SOL/USDT", fetched["one"])]:
        expected = held[symbol]
        got = {k: ticker[k] for k in ("bid", "ask", "last", "timestamp")}
        assert got == {k: expected[k] for k in ("bid", "ask", "last", "timestamp")}


def test_unsubscribe_stops_that_symbols_events_and_keeps_the_others(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> dict[str, int]:
        url = f"ws://{sim.host}:{sim.port}/stream/0"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            streams = ["btcusdt@ticker", "ethusdt@ticker"]
            await ws.send_json({"method": "SUBSCRIBE", "params": streams, "id": 1})
            await ws.send_json({"method": "UNSUBSCRIBE", "params": streams[:1], "id": 2})
            seen = {"btcusdt@ticker": 0, "ethusdt@ticker": 0}
            acked = False
            deadline = time.monotonic() + 0.6
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = json.loads(await ws.receive_str(timeout=left))
                except TimeoutError:
                    break
                if frame.get("id") == 2:
                    acked = frame["result"] is None
                elif acked:
                    seen[frame["stream"]] += 1
            return seen

    seen = asyncio.run(scenario())
    assert seen["btcusdt@ticker"] == 0
    assert seen["ethusdt@ticker"] >= 5


def test_a_drop_fails_the_pending_watch_and_the_next_watch_reconnects(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> tuple[Exception, dict[str, int]]:
        async with binance(sim) as exchange:
            await exchange.watch_tickers(WATCHED, FULL)
            pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED, FULL))
            # the drop goes through the control API, from another thread, like an operator
            await asyncio.to_thread(sim.client.drop)
            error: Exception | None = None
            try:
                while True:  # frames already in flight may resolve it first
                    await pending
                    pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED, FULL))
            except ccxt.NetworkError as exc:
                error = exc
            return error, await ticks_for(exchange, 0.6)

    error, counts = asyncio.run(scenario())
    assert isinstance(error, ccxt.NetworkError)
    assert all(count > 0 for count in counts.values()), counts
    assert sim.client.state()["connections_total"] == 2


def test_a_stall_keeps_the_socket_open_but_silent_until_resume(sim: SimulatorThread) -> None:
    async def scenario() -> tuple[dict[str, int], dict[str, Any], dict[str, int]]:
        async with binance(sim) as exchange:
            await exchange.watch_tickers(WATCHED, FULL)
            await asyncio.to_thread(sim.client.stall)
            await asyncio.sleep(0.1)  # let frames already in flight land
            stalled = await ticks_for(exchange, 0.5)
            during = await asyncio.to_thread(sim.client.state)
            await asyncio.to_thread(sim.client.resume)
            return stalled, during, await ticks_for(exchange, 0.5)

    stalled, during, resumed = asyncio.run(scenario())
    assert sum(stalled.values()) == 0
    assert during["stalled"] is True and during["connections"] == 1
    assert all(count > 0 for count in resumed.values()), resumed


def test_after_a_pause_ccxt_holds_exactly_the_last_values_sent(sim: SimulatorThread) -> None:
    symbols = sim.sim.symbols[:12]

    async def scenario() -> dict[str, Any]:
        async with binance(sim) as exchange:
            await asyncio.to_thread(sim.client.set_rate, 50)
            await ticks_for(exchange, 0.8, symbols)
            await asyncio.to_thread(sim.client.pause)
            await ticks_for(exchange, 0.3, symbols)  # drain what was in flight
            return {s: exchange.tickers[s] for s in symbols}

    held = asyncio.run(scenario())
    last = sim.client.last()
    for symbol in symbols:
        got = {k: held[symbol][k] for k in ("bid", "ask", "last", "timestamp")}
        assert got == {k: last[symbol][k] for k in ("bid", "ask", "last", "timestamp")}, symbol
    assert all(last[s]["count"] > 1 for s in symbols)


def test_drop_every_closes_connections_periodically() -> None:
    with SimulatorThread("binance", symbols=3, rate=10, drop_every_s=0.3) as sim:

        async def scenario() -> None:
            async with binance(sim) as exchange:
                deadline = time.monotonic() + 1.5
                while time.monotonic() < deadline:
                    try:
                        await exchange.watch_tickers(["BTC/USDT"], FULL)
                    except ccxt.NetworkError:
                        await asyncio.sleep(0.05)

        asyncio.run(scenario())
        state = sim.client.state()
    assert state["drops"] >= 3
    assert state["connections_total"] >= 3


def test_the_cli_simulator_process_serves_ccxt_and_stops_cleanly_on_sigterm() -> None:
    process = SimulatorProcess("binance", symbols=5, rate=20, seed=3)
    with process as sim:

        async def scenario() -> dict[str, Any]:
            async with binance(sim) as exchange:
                return dict(await exchange.watch_tickers(["BTC/USDT"], FULL))

        ticker = asyncio.run(scenario())["BTC/USDT"]
        assert sim.client.state()["events_sent"] >= 1
    assert ticker["bid"] < ticker["ask"]
    assert process.stop() == 0


def test_stall_after_flag_stalls_the_feed_that_long_after_start() -> None:
    with SimulatorProcess("binance", symbols=3, rate=20, stall_after=0.4) as sim:
        before = sim.client.state()
        time.sleep(0.8)
        after = sim.client.state()
    assert before["stalled"] is False
    assert after["stalled"] is True


def test_control_api_rejects_unknown_switches_and_bad_values(sim: SimulatorThread) -> None:
    rejected = []
    for path in ("/_sim/rate?value=-1", "/_sim/rate?value=fast", "/_sim/rate", "/_sim/explode"):
        try:
            sim.client._call("POST", path)
        except urllib.error.HTTPError as exc:
            rejected.append(exc.code)
    sim.client.set_rate(0)
    assert rejected == [400, 400, 400, 400]
    assert sim.client.state()["rate"] == 0
