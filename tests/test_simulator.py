"""The simulator's protocols, driven by ccxt's real clients over real sockets.

Each test runs once per protocol (Binance spot, OKX spot: the ``protocol``
fixture); what only one protocol has is in ``test_simulator_<protocol>.py``.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
from typing import Any

import ccxt

from service.simulator.testing import SimulatorProcess, SimulatorThread
from tests.sim_helpers import KEYS, WATCHED, Protocol, ticks_for


async def test_ccxt_loads_every_spot_market_from_the_simulator(
    simulator: SimulatorThread, exchange: Any, protocol: Protocol
) -> None:
    markets = await exchange.load_markets()
    assert sorted(markets) == sorted(simulator.sim.symbols)
    btc = markets["BTC/USDT"]
    expected = (protocol.market_ids["BTC/USDT"], "spot", True, True)
    assert (btc["id"], btc["type"], btc["active"], btc["spot"]) == expected
    assert markets["C0001/USDT"]["id"] == protocol.market_ids["C0001/USDT"]


async def test_watch_tickers_gives_bid_ask_last_and_the_send_time_as_timestamp(
    exchange: Any, protocol: Protocol
) -> None:
    received = []
    for _ in range(8):
        for ticker in (await exchange.watch_tickers(WATCHED, protocol.watch_params)).values():
            received.append({**ticker, "received": time.time() * 1000})

    assert {t["symbol"] for t in received} == set(WATCHED)
    for ticker in received:
        assert ticker["bid"] < ticker["last"] < ticker["ask"]
        assert protocol.event_times(ticker["info"]) == {ticker["timestamp"]}
        assert 0 <= ticker["received"] - ticker["timestamp"] < 1000
        assert ticker["baseVolume"] > 0 and ticker["percentage"] is not None


async def test_fetch_tickers_over_rest_returns_what_the_simulator_holds(
    simulator: SimulatorThread,
) -> None:
    async with simulator.exchange(rest=True) as exchange:
        some = await exchange.fetch_tickers(WATCHED[:2])
        everything = await exchange.fetch_tickers()
        one = await exchange.fetch_ticker("SOL/USDT")

    held = simulator.client.last()  # nothing streams here, so nothing moved since the fetch
    assert sorted(some) == sorted(WATCHED[:2])
    assert len(everything) == len(simulator.sim.symbols)
    for symbol, ticker in [*everything.items(), ("SOL/USDT", one)]:
        assert {k: ticker[k] for k in KEYS} == {k: held[symbol][k] for k in KEYS}


async def test_a_drop_fails_the_pending_watch_and_the_next_watch_reconnects(
    simulator: SimulatorThread, exchange: Any, protocol: Protocol
) -> None:
    params = protocol.watch_params
    await exchange.watch_tickers(WATCHED, params)
    pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED, params))
    # the drop goes through the control API, from another thread, like an operator
    await asyncio.to_thread(simulator.client.drop)
    error: Exception | None = None
    deadline = time.monotonic() + 10
    try:
        # Frames already in flight may resolve it first; bounded, so a drop
        # that never surfaces fails the test instead of hanging it.
        while time.monotonic() < deadline:
            await asyncio.wait_for(pending, 5)
            pending = asyncio.ensure_future(exchange.watch_tickers(WATCHED, params))
    except ccxt.NetworkError as exc:
        error = exc
    finally:
        pending.cancel()
    counts = await ticks_for(exchange, protocol, 0.6)

    assert isinstance(error, ccxt.NetworkError)
    assert all(count > 0 for count in counts.values()), counts
    assert simulator.client.state()["connections_total"] == 2


async def test_a_stall_keeps_the_socket_open_but_silent_until_resume(
    simulator: SimulatorThread, exchange: Any, protocol: Protocol
) -> None:
    await exchange.watch_tickers(WATCHED, protocol.watch_params)
    await asyncio.to_thread(simulator.client.stall)
    await asyncio.sleep(0.1)  # let frames already in flight land
    stalled = await ticks_for(exchange, protocol, 0.5)
    during = await asyncio.to_thread(simulator.client.state)
    await asyncio.to_thread(simulator.client.resume)
    resumed = await ticks_for(exchange, protocol, 0.5)

    assert sum(stalled.values()) == 0
    assert during["stalled"] is True and during["connections"] == 1
    assert all(count > 0 for count in resumed.values()), resumed


async def test_after_a_pause_ccxt_holds_exactly_the_last_values_sent(
    simulator: SimulatorThread, exchange: Any, protocol: Protocol
) -> None:
    symbols = simulator.sim.symbols[:12]
    await asyncio.to_thread(simulator.client.set_rate, 50)
    await ticks_for(exchange, protocol, 0.8, symbols)
    await asyncio.to_thread(simulator.client.pause)
    await ticks_for(exchange, protocol, 0.3, symbols)  # drain what was in flight

    last = simulator.client.last()
    for symbol in symbols:
        got = {k: exchange.tickers[symbol][k] for k in KEYS}
        assert got == {k: last[symbol][k] for k in KEYS}, symbol
    assert all(last[s]["count"] > 1 for s in symbols)


async def test_drop_every_closes_connections_periodically(protocol: Protocol) -> None:
    with SimulatorThread(protocol.name, symbols=3, rate=10, drop_every_s=0.3) as sim:
        async with sim.exchange() as exchange:
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                try:
                    await exchange.watch_tickers(["BTC/USDT"], protocol.watch_params)
                except ccxt.NetworkError:
                    await asyncio.sleep(0.05)
        state = sim.client.state()
    assert state["drops"] >= 3
    assert state["connections_total"] >= 3


async def test_the_cli_simulator_process_serves_ccxt_and_stops_cleanly_on_sigterm(
    protocol: Protocol,
) -> None:
    process = SimulatorProcess(protocol.name, symbols=5, rate=20, seed=3)
    with process as sim:
        async with sim.exchange() as exchange:
            tickers = await exchange.watch_tickers(["ETH/USDT"], protocol.watch_params)
        state = sim.client.state()
    assert state["events_sent"] >= 1 and state["protocol"] == protocol.name
    assert tickers["ETH/USDT"]["bid"] < tickers["ETH/USDT"]["ask"]
    assert process.stop() == 0


def test_stall_after_flag_stalls_the_feed_that_long_after_start(protocol: Protocol) -> None:
    with SimulatorProcess(protocol.name, symbols=3, rate=20, stall_after=0.4) as sim:
        before = sim.client.state()
        time.sleep(0.8)
        after = sim.client.state()
    assert before["stalled"] is False
    assert after["stalled"] is True


def test_control_api_rejects_unknown_switches_and_bad_values(simulator: SimulatorThread) -> None:
    rejected = []
    for path in ("/_sim/rate?value=-1", "/_sim/rate?value=fast", "/_sim/rate", "/_sim/explode"):
        try:
            simulator.client._call("POST", path)
        except urllib.error.HTTPError as exc:
            rejected.append(exc.code)
    simulator.client.set_rate(0)
    assert rejected == [400, 400, 400, 400]
    assert simulator.client.state()["rate"] == 0


async def test_state_counts_the_frames_sent_per_symbol_until_it_is_unsubscribed(
    simulator: SimulatorThread, exchange: Any, protocol: Protocol
) -> None:
    watched = WATCHED[:2]
    await ticks_for(exchange, protocol, 0.4, watched)
    # the whole subscription, as watched: ccxt unsubscribes it on its own connection
    await exchange.un_watch_tickers(watched, protocol.watch_params)
    stopped = simulator.client.state()["events_sent_by_symbol"]
    await asyncio.sleep(0.3)
    state = simulator.client.state()
    assert state["events_sent_by_symbol"] == stopped
    assert set(stopped) == set(watched) and min(stopped.values()) >= 3
    assert sum(stopped.values()) == state["events_sent"]
