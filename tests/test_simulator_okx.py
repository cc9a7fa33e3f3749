"""The simulator's OKX spot protocol, driven by ccxt's real clients over real sockets."""

from __future__ import annotations

import asyncio
import json
import time
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
KEYS = ("bid", "ask", "last", "timestamp")


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread("okx", symbols=25, rate=20, seed=11) as running:
        yield running


@asynccontextmanager
async def okx(sim: SimulatorThread | SimulatorProcess) -> AsyncIterator[Any]:
    exchange = ccxt.pro.okx(ccxt_params("okx", sim.host, sim.port))
    try:
        yield exchange
    finally:
        await exchange.close()


async def ticks_for(exchange: Any, seconds: float, symbols: list[str] = WATCHED) -> dict[str, int]:
    return await count_ticker_updates(exchange, symbols, seconds)


def test_ccxt_okx_loads_every_spot_market_from_the_simulator(sim: SimulatorThread) -> None:
    async def scenario() -> dict[str, Any]:
        async with okx(sim) as exchange:
            return dict(await exchange.load_markets())

    markets = asyncio.run(scenario())
    assert sorted(markets) == sorted(sim.sim.symbols)
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["type"], btc["active"], btc["spot"]) == ("BTC-USDT", "spot", True, True)
    assert markets["C0001/USDT"]["id"] == "C0001-USDT"


def test_okx_watch_tickers_gives_bid_ask_last_and_the_send_time_as_timestamp(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with okx(sim) as exchange:
            received = []
            for _ in range(8):
                for ticker in (await exchange.watch_tickers(WATCHED)).values():
                    received.append({**ticker, "received": time.time() * 1000})
            return received

    received = asyncio.run(scenario())
    assert {t["symbol"] for t in received} == set(WATCHED)
    for ticker in received:
        assert ticker["bid"] < ticker["last"] < ticker["ask"]
        assert ticker["timestamp"] == int(ticker["info"]["ts"])
        assert 0 <= ticker["received"] - ticker["timestamp"] < 1000
        assert ticker["baseVolume"] > 0 and ticker["percentage"] is not None


def test_okx_fetch_tickers_over_rest_returns_what_the_simulator_holds(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> dict[str, Any]:
        exchange = ccxt.async_support.okx(ccxt_params("okx", sim.host, sim.port))
        try:
            everything = await exchange.fetch_tickers()
            one = await exchange.fetch_ticker("SOL/USDT")
            return {**everything, "one": one}
        finally:
            await exchange.close()

    fetched = asyncio.run(scenario())
    held = sim.client.last()  # nothing streams here, so nothing moved since the fetch
    assert len(fetched) == len(sim.sim.symbols) + 1
    for symbol, ticker in fetched.items():
        expected = held["SOL/USDT" if symbol == "one" else symbol]
        assert {k: ticker[k] for k in KEYS} == {k: expected[k] for k in KEYS}


def test_okx_answers_ping_with_pong_and_an_unknown_instrument_with_error_60018(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        url = f"ws://{sim.host}:{sim.port}/ws/v5/public"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_str("ping")
            pong = await ws.receive_str(timeout=2)
            arg = {"channel": "tickers", "instId": "NOPE-USDT"}
            await ws.send_json({"op": "subscribe", "args": [arg]})
            error = json.loads(await ws.receive_str(timeout=2))
            arg = {"channel": "tickers", "instId": "BTC-USDT"}
            await ws.send_json({"op": "subscribe", "args": [arg]})
            return pong, error, json.loads(await ws.receive_str(timeout=2))

    pong, error, ack = asyncio.run(scenario())
    assert pong == "pong"
    assert (error["event"], error["code"]) == ("error", "60018")
    assert ack["event"] == "subscribe"
    assert ack["arg"] == {"channel": "tickers", "instId": "BTC-USDT"}


def test_okx_unsubscribe_stops_that_symbols_events_and_keeps_the_others(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> dict[str, int]:
        url = f"ws://{sim.host}:{sim.port}/ws/v5/public"
        args = [{"channel": "tickers", "instId": i} for i in ("BTC-USDT", "ETH-USDT")]
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.send_json({"op": "subscribe", "args": args})
            await ws.send_json({"op": "unsubscribe", "args": args[:1]})
            seen = {"BTC-USDT": 0, "ETH-USDT": 0}
            acked = False
            deadline = time.monotonic() + 0.6
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = json.loads(await ws.receive_str(timeout=left))
                except TimeoutError:
                    break
                if frame.get("event") == "unsubscribe":
                    acked = True
                elif acked and "data" in frame:
                    seen[frame["arg"]["instId"]] += 1
            return seen

    seen = asyncio.run(scenario())
    assert seen["BTC-USDT"] == 0
    assert seen["ETH-USDT"] >= 5


def test_okx_drop_fails_the_pending_watch_and_the_next_watch_reconnects(
    sim: SimulatorThread,
) -> None:
    async def scenario() -> tuple[Exception | None, dict[str, int]]:
        async with okx(sim) as exchange:
            await exchange.watch_tickers(WATCHED)
            pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED))
            await asyncio.to_thread(sim.client.drop)
            error: Exception | None = None
            deadline = asyncio.get_running_loop().time() + 10
            try:
                # Frames already in flight may resolve it first; bounded, so a drop
                # that never surfaces fails the test instead of hanging it.
                while asyncio.get_running_loop().time() < deadline:
                    await asyncio.wait_for(pending, 5)
                    pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED))
            except ccxt.NetworkError as exc:
                error = exc
            finally:
                pending.cancel()
            return error, await ticks_for(exchange, 0.6)

    error, counts = asyncio.run(scenario())
    assert isinstance(error, ccxt.NetworkError)
    assert all(count > 0 for count in counts.values()), counts
    assert sim.client.state()["connections_total"] == 2


def test_okx_stall_keeps_the_socket_open_but_silent_until_resume(sim: SimulatorThread) -> None:
    async def scenario() -> tuple[dict[str, int], dict[str, Any], dict[str, int]]:
        async with okx(sim) as exchange:
            await exchange.watch_tickers(WATCHED)
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


def test_okx_after_a_pause_ccxt_holds_exactly_the_last_values_sent(sim: SimulatorThread) -> None:
    symbols = sim.sim.symbols[:12]

    async def scenario() -> dict[str, Any]:
        async with okx(sim) as exchange:
            await asyncio.to_thread(sim.client.set_rate, 50)
            await ticks_for(exchange, 0.8, symbols)
            await asyncio.to_thread(sim.client.pause)
            await ticks_for(exchange, 0.3, symbols)  # drain what was in flight
            return {s: exchange.tickers[s] for s in symbols}

    held = asyncio.run(scenario())
    last = sim.client.last()
    for symbol in symbols:
        got = {k: held[symbol][k] for k in KEYS}
        assert got == {k: last[symbol][k] for k in KEYS}, symbol
    assert all(last[s]["count"] > 1 for s in symbols)


def test_the_okx_simulator_process_serves_ccxt_and_stops_cleanly_on_sigterm() -> None:
    process = SimulatorProcess("okx", symbols=5, rate=20, seed=3)
    with process as sim:

        async def scenario() -> dict[str, Any]:
            async with okx(sim) as exchange:
                return dict(await exchange.watch_tickers(["ETH/USDT"]))

        ticker = asyncio.run(scenario())["ETH/USDT"]
        assert sim.client.state()["protocol"] == "okx"
    assert ticker["bid"] < ticker["ask"]
    assert process.stop() == 0
