"""Ticks for the client tests, written by the service's own writer (``TickWriter``)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from service.keys import Keys
from service.store import TickWriter
from workers.clock import now_ms
from workers.ticks import to_tick


def tick(exchange: str, symbol: str, last: float, *, age_s: float = 0.0) -> dict[str, Any]:
    """A stored tick as a worker writes it, received ``age_s`` seconds ago."""
    received = now_ms() - int(age_s * 1000)
    ccxt = {"timestamp": received - 5, "last": last, "bid": last - 1, "ask": last + 1}
    return to_tick(exchange, symbol, ccxt, received)


async def write(url: str, keys: Keys, *ticks: dict[str, Any]) -> None:
    """Write ``ticks`` (one batch per exchange) through the service's TickWriter."""
    client = aioredis.Redis.from_url(url)
    try:
        writer = TickWriter(client, keys)
        for exchange in dict.fromkeys(t["exchange"] for t in ticks):
            await writer.write(exchange, [t for t in ticks if t["exchange"] == exchange])
    finally:
        await client.aclose()
