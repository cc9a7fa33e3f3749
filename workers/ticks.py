"""Turning a ccxt ticker into the tick we store."""

from __future__ import annotations

from typing import Any

TICK_FIELDS = (
    "exchange",
    "symbol",
    "bid",
    "ask",
    "last",
    "base_volume",
    "quote_volume",
    "percentage",
    "timestamp",
    "received_at",
)


def to_tick(exchange: str, symbol: str, ticker: dict[str, Any], received_at: int) -> dict[str, Any]:
    """A stored tick from a ccxt unified ticker.

    ``timestamp`` is the exchange's time (None when the exchange gives none),
    ``received_at`` ours; both UTC epoch ms. Sample ccxt input::

        {"symbol": "BTC/USDT", "timestamp": 1700000000000, "bid": 1.0, "ask": 1.1,
         "last": 1.05, "baseVolume": 10.0, "quoteVolume": 10.5, "percentage": 0.5, ...}
    """
    return {
        "exchange": exchange,
        "symbol": symbol,
        "bid": ticker.get("bid"),
        "ask": ticker.get("ask"),
        "last": ticker.get("last"),
        "base_volume": ticker.get("baseVolume"),
        "quote_volume": ticker.get("quoteVolume"),
        "percentage": ticker.get("percentage"),
        "timestamp": ticker.get("timestamp"),
        "received_at": received_at,
    }
