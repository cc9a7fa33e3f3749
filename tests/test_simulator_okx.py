"""What only the simulator's OKX spot protocol has (the shared tests: test_simulator.py)."""

from __future__ import annotations

import json

import pytest

from service.simulator.testing import SimulatorThread
from tests.sim_helpers import OKX, frames, websocket

pytestmark = pytest.mark.parametrize("protocol", [OKX], ids=str)


async def test_okx_answers_ping_with_pong_and_an_unknown_instrument_with_error_60018(
    simulator: SimulatorThread,
) -> None:
    async with websocket(simulator, "/ws/v5/public") as ws:
        await ws.send_str("ping")
        pong = await ws.receive_str(timeout=2)
        arg = {"channel": "tickers", "instId": "NOPE-USDT"}
        await ws.send_json({"op": "subscribe", "args": [arg]})
        error = json.loads(await ws.receive_str(timeout=2))
        arg = {"channel": "tickers", "instId": "BTC-USDT"}
        await ws.send_json({"op": "subscribe", "args": [arg]})
        ack = json.loads(await ws.receive_str(timeout=2))
    assert pong == "pong"
    assert (error["event"], error["code"]) == ("error", "60018")
    assert ack["event"] == "subscribe"
    assert ack["arg"] == {"channel": "tickers", "instId": "BTC-USDT"}


async def test_okx_unsubscribe_stops_that_symbols_events_and_keeps_the_others(
    simulator: SimulatorThread,
) -> None:
    seen = {"BTC-USDT": 0, "ETH-USDT": 0}
    async with websocket(simulator, "/ws/v5/public") as ws:
        args = [{"channel": "tickers", "instId": i} for i in seen]
        await ws.send_json({"op": "subscribe", "args": args})
        await ws.send_json({"op": "unsubscribe", "args": args[:1]})
        acked = False
        async for frame in frames(ws, 0.6):
            if frame.get("event") == "unsubscribe":
                acked = True
            elif acked and "data" in frame:
                seen[frame["arg"]["instId"]] += 1
    assert seen["BTC-USDT"] == 0
    assert seen["ETH-USDT"] >= 5
