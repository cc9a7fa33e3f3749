"""Turning a ccxt ticker into the tick we store."""

from __future__ import annotations

import re
from typing import Any

# Every field of ccxt's unified ticker (ccxt.base.types.Ticker, as ``safe_ticker`` fills
# it) that we store, in ccxt's order. Not ``symbol`` (we store the one we asked for),
# ``datetime`` (``timestamp`` as text) or ``info`` (the raw frame).
# tests/test_tick_fields.py fails when ccxt's unified ticker gains or loses a field.
CCXT_FIELDS = (
    "timestamp",
    "high",
    "low",
    "bid",
    "bidVolume",
    "ask",
    "askVolume",
    "vwap",
    "open",
    "close",
    "last",
    "previousClose",
    "change",
    "percentage",
    "average",
    "baseVolume",
    "quoteVolume",
    "indexPrice",
    "markPrice",
)


def snake_case(name: str) -> str:
    """ccxt's camelCase field name as we store it: ``bidVolume`` -> ``bid_volume``."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Stored field -> the ccxt unified ticker field it is read from, in stored order.
FROM_CCXT = {snake_case(name): name for name in CCXT_FIELDS}
# Every field of a stored tick, in order: ours around the ones read from ccxt.
TICK_FIELDS = ("exchange", "symbol", *FROM_CCXT, "received_at")


def to_tick(exchange: str, symbol: str, ticker: dict[str, Any], received_at: int) -> dict[str, Any]:
    """A stored tick (the fields of ``TICK_FIELDS``, in that order) from a ccxt unified ticker.

    A field the exchange does not provide is None, so every tick has the same keys.
    ``timestamp`` is the exchange's time, ``received_at`` ours; both UTC epoch ms.
    Sample ccxt input (Binance miniTicker: no book, so no bid/ask)::

        {"symbol": "BTC/USDT", "timestamp": 1786539510015, "high": 64500.0, "low": 63238.0,
         "bid": None, "bidVolume": None, "ask": None, "askVolume": None, "vwap": 63845.28,
         "open": 64330.6, "close": 64117.99, "last": 64117.99, "previousClose": None,
         "change": -212.61, "percentage": -0.33, "average": 64224.29,
         "baseVolume": 14724.65375, "quoteVolume": 940099726.8286185, "info": {...}}
    """
    tick: dict[str, Any] = {"exchange": exchange, "symbol": symbol}
    for field, source in FROM_CCXT.items():
        tick[field] = ticker.get(source)
    tick["received_at"] = received_at
    return tick
