"""What the simulator suites need per protocol, and the websocket plumbing they share.

The suites run each test once per row of ``PROTOCOLS`` (the ``protocol``
fixture in ``conftest.py``); the runners themselves are in
``service.simulator.testing``, which the benchmarks use too.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from service.simulator.testing import SimulatorThread, count_ticker_updates

WATCHED = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "C0001/USDT"]
KEYS = ("bid", "ask", "last", "timestamp")


@dataclass(frozen=True)
class Protocol:
    """One exchange protocol of the simulator, as the shared tests see it."""

    name: str
    seed: int
    market_ids: dict[str, str]  # unified symbol -> the exchange's own id
    event_times: Callable[[dict[str, Any]], set[int]]  # the event times a raw ticker carries
    watch_params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


BINANCE = Protocol(
    "binance",
    seed=7,
    market_ids={"BTC/USDT": "BTCUSDT", "C0001/USDT": "C0001USDT"},
    event_times=lambda info: {info["E"], info["C"]},  # event time and statistics close time
    watch_params={"name": "ticker"},  # the 24hrTicker channel, with bid and ask
)
OKX = Protocol(
    "okx",
    seed=11,
    market_ids={"BTC/USDT": "BTC-USDT", "C0001/USDT": "C0001-USDT"},
    event_times=lambda info: {int(info["ts"])},
)
PROTOCOLS = [BINANCE, OKX]


async def ticks_for(
    exchange: Any, protocol: Protocol, seconds: float, symbols: list[str] = WATCHED
) -> dict[str, int]:
    """Updates per symbol that ``watch_tickers`` returned in ``seconds``."""
    return await count_ticker_updates(exchange, symbols, seconds, protocol.watch_params)


@asynccontextmanager
async def websocket(
    sim: SimulatorThread, path: str
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A raw websocket to the simulator, below ccxt."""
    url = f"ws://{sim.host}:{sim.port}{path}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        yield ws


async def frames(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> AsyncIterator[Any]:
    """The JSON frames ``ws`` receives in the next ``seconds``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = await ws.receive_str(timeout=left)
        except TimeoutError:
            return
        yield json.loads(raw)
