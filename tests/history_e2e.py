"""What the history end-to-end tests share: the simulated stream and its rows in the database."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from service.cli import main
from service.history.records import MINUTE_MS, Stream, StreamKey, Timeframe
from service.simulator.params import ccxt_params

SYMBOL = "BTC/USDT"
HOUR_MS = 60 * MINUTE_MS
TRADES = StreamKey("sim", SYMBOL, Stream.TRADES)
CANDLES = StreamKey("sim", SYMBOL, Stream.CANDLES, Timeframe.M1)


def add_rows(host: str, port: int, since_ms: int, requests_per_minute: int) -> None:
    """Through the CLI (DATABASE_URL etc. set by the caller): exchange ``sim`` pointed at a
    Binance simulator with its budget, and its BTC/USDT collecting trades and candles."""
    params = json.dumps(ccxt_params("binance", host, port))
    since = datetime.fromtimestamp(since_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main(["db", "upgrade"]) == 0
    add = ["exchanges", "add", "sim", "--ccxt-id", "binance", "--params", params]
    assert main([*add, "--requests-per-minute", str(requests_per_minute)]) == 0
    assert main(["symbols", "add", "sim", SYMBOL, "--trades", "--candles", "--since", since]) == 0
