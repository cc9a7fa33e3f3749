"""Turning a ccxt ticker into the tick we store."""

from __future__ import annotations

from typing import Any

# Stored field -> the ccxt unified ticker field it is read from, in stored order.
FROM_CCXT = {
    "bid": "bid",
    "ask": "ask",
    "last": "last",
    "base_volume": "baseVolume",
    "quote_volume": "quoteVolume",
    "percentage": "percentage",
    "timestamp": "timestamp",
}
# Every field of a stored tick, in order: ours around the ones read from ccxt.
TICK_FIELDS = ("exchange", "symbol", *FROM_CCXT, "received_at")


def to_tick(exchange: str, symbol: str, ticker: dict[str, Any], received_at: int) -> dict[str, Any]:
    """A stored tick (the fields of ``TICK_FIELDS``, in that order) from a ccxt unified ticker.

    ``timestamp`` is the exchange's time (None when the exchange gives none),
    ``received_at`` ours; both UTC epoch ms. Sample ccxt input::

        {"symbol": "BTC/USDT", "timestamp": 1700000000000, "bid": 1.0, "ask": 1.1,
         "last": 1.05, "baseVolume": 10.0, "quoteVolume": 10.5, "percentage": 0.5, ...}
    """
    tick: dict[str, Any] = {"exchange": exchange, "symbol": symbol}
    for field, source in FROM_CCXT.items():
        tick[field] = ticker.get(source)
    tick["received_at"] = received_at
    return tick
