"""The stream keys and the start instant that the history tests share."""

from __future__ import annotations

from service.history.records import Stream, StreamKey, Timeframe

T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
TRADES = StreamKey("binance", "BTC/USDT", Stream.TRADES)
CANDLES = StreamKey("binance", "BTC/USDT", Stream.CANDLES, Timeframe.M1)
