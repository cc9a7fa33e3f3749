"""ccxt's recorded exchange frames (tests/fixtures/exchange-frames): the spot ticker cases.

The fixture files are byte-identical copies of the team's
``shared/fixtures/exchange-frames`` (ccxt's ``ts/src/test/static/ws``, MIT; see the
README there), kept in the repository so the suite runs on a fresh checkout.

Each case of ccxt's static ws tests holds the frames an exchange sent and ccxt's
expected parse of them. ``ticker_cases`` picks the spot ticker ones of the
exchanges the simulator speaks and says which stream each data frame belongs
to, so the simulator can replay them to whoever subscribes. Set
``EXCHANGE_FRAMES_DIR`` to replay other recordings of the same format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.simulator import PROTOCOLS

FRAMES_DIR = Path(
    os.environ.get("EXCHANGE_FRAMES_DIR", Path(__file__).parent / "fixtures" / "exchange-frames")
)
TICKER_METHODS = ("watchTicker", "watchTickers")
# Binance event type -> the stream channel that carries it.
BINANCE_CHANNELS = {"24hrTicker": "ticker", "24hrMiniTicker": "miniTicker"}
OKX_CHANNELS = ("tickers",)
# The recorded instruments' price ticks, as the exchanges list them (Binance exchangeInfo
# PRICE_FILTER tickSize, OKX instruments tickSz). The recordings hold no markets, and
# ccxt truncates the ``average`` it computes to the market's price precision.
PRICE_TICKS = {"binance": {"BTC/USDT": "0.01"}, "okx": {"BTC/USDT": "0.1"}}


@dataclass(frozen=True)
class TickerCase:
    """One recorded spot ticker case, ready to replay."""

    exchange: str  # ccxt id, also the simulator protocol
    description: str
    streams: dict[str, list[Any]]  # stream name -> data frames, in order
    watch_params: dict[str, Any]
    expected: dict[str, dict[str, Any]]  # symbol -> ccxt's last expected parse

    @property
    def symbols(self) -> list[str]:
        return sorted(self.expected)

    @property
    def markets(self) -> list[str]:
        """The symbols as the simulator lists them: ``BTC/USDT=0.01`` where the tick is known."""
        ticks = PRICE_TICKS.get(self.exchange, {})
        return [f"{s}={ticks[s]}" if s in ticks else s for s in self.symbols]

    @property
    def id(self) -> str:
        return f"{self.exchange}: {self.description}"


def binance_stream(frame: dict[str, Any]) -> str | None:
    """The spot ticker stream of a raw Binance event (None for acks and other events)."""
    channel = BINANCE_CHANNELS.get(frame.get("e", ""))
    return f"{frame['s'].lower()}@{channel}" if channel and "s" in frame else None


def okx_stream(frame: dict[str, Any]) -> str | None:
    """``tickers:{instId}`` of an OKX push (None for subscribe acks and errors)."""
    arg = frame.get("arg") or {}
    if "event" in frame or arg.get("channel") not in OKX_CHANNELS or "data" not in frame:
        return None
    return f"{arg['channel']}:{arg['instId']}"


STREAM_OF: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "binance": binance_stream,
    "okx": okx_stream,
}


def _expected(case: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per symbol, ccxt's last expected ticker (watchTicker: one; watchTickers: many)."""
    responses = case.get("parsedResponses") or [case.get("parsedResponse")]
    expected: dict[str, dict[str, Any]] = {}
    for response in filter(None, responses):
        tickers = [response] if "symbol" in response else list(response.values())
        expected.update({ticker["symbol"]: ticker for ticker in tickers})
    return expected


def _case(exchange: str, case: dict[str, Any]) -> TickerCase | None:
    streams: dict[str, list[Any]] = {}
    for frame in case["messages"]:
        if exchange == "binance" and isinstance(frame, dict) and "stream" in frame:
            frame = frame.get("data")  # a combined-stream recording: the simulator wraps
        name = STREAM_OF[exchange](frame) if isinstance(frame, dict) else None
        if name is not None:
            streams.setdefault(name, []).append(frame)
    expected = _expected(case)
    if not streams or not expected or any(":" in symbol for symbol in expected):
        return None  # not a ticker stream we serve, or a contract market (not simulated)
    channels = {name.partition("@")[2] for name in streams} if exchange == "binance" else set()
    watch_params = {"name": channels.pop()} if len(channels) == 1 else {}
    return TickerCase(exchange, case["description"], streams, watch_params, expected)


def ticker_cases(directory: Path = FRAMES_DIR) -> Iterator[TickerCase]:
    """Every spot ticker case of every recording the simulator has a protocol for."""
    for path in sorted(directory.glob("*.json")):
        recording = json.loads(path.read_text())
        exchange = recording.get("exchange")
        if exchange not in PROTOCOLS or exchange not in STREAM_OF:
            continue
        for method in TICKER_METHODS:
            for case in recording.get("methods", {}).get(method, []):
                found = _case(exchange, case)
                if found is not None:
                    yield found
