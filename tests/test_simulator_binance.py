"""What only the simulator's Binance spot protocol has (the shared tests: test_simulator.py)."""

from __future__ import annotations

import pytest

from service.simulator.testing import SimulatorThread
from tests.sim_helpers import BINANCE, frames, websocket

pytestmark = pytest.mark.parametrize("protocol", [BINANCE], ids=str)


async def test_watch_tickers_on_the_default_mini_ticker_channel_has_last_but_no_bid(
    simulator: SimulatorThread,
) -> None:
    async with simulator.exchange() as exchange:
        ticker = (await exchange.watch_tickers(["ETH/USDT"]))["ETH/USDT"]
    assert ticker["info"]["e"] == "24hrMiniTicker"
    assert ticker["last"] > 0 and ticker["bid"] is None


async def test_unsubscribe_stops_that_symbols_events_and_keeps_the_others(
    simulator: SimulatorThread,
) -> None:
    seen = {"btcusdt@ticker": 0, "ethusdt@ticker": 0}
    async with websocket(simulator, "/stream/0") as ws:
        streams = list(seen)
        await ws.send_json({"method": "SUBSCRIBE", "params": streams, "id": 1})
        await ws.send_json({"method": "UNSUBSCRIBE", "params": streams[:1], "id": 2})
        acked = False
        async for frame in frames(ws, 0.6):
            if frame.get("id") == 2:
                acked = frame["result"] is None
            elif acked:
                seen[frame["stream"]] += 1
    assert seen["btcusdt@ticker"] == 0
    assert seen["ethusdt@ticker"] >= 5
