"""The simulated market: spot symbols with a random-walk ticker each.

A ``Ticker`` changes only when an event is about to be sent for it
(``Market.step``), so its fields always equal the last values sent for that
symbol: that is what ``/_sim/last`` reports and what a client must end with.
Prices are rounded to the symbol's tick so that the decimal string on the wire
parses back to exactly the float held here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from workers.clock import now_ms

QUOTE = "USDT"
# Real names first (with a plausible starting price), then generated C0001...
REAL_ASSETS: tuple[tuple[str, float], ...] = (
    ("BTC", 64000.0),
    ("ETH", 3100.0),
    ("SOL", 145.0),
    ("BNB", 580.0),
    ("XRP", 0.52),
    ("ADA", 0.45),
    ("DOGE", 0.12),
    ("TRX", 0.12),
    ("AVAX", 28.0),
    ("DOT", 6.2),
    ("LINK", 13.5),
    ("LTC", 72.0),
    ("BCH", 380.0),
    ("ATOM", 6.8),
    ("NEAR", 5.1),
    ("UNI", 7.4),
    ("FIL", 4.3),
    ("APT", 6.9),
    ("ARB", 0.75),
    ("OP", 1.6),
)
PRICES = dict(REAL_ASSETS)
# A spot symbol as exchanges list it, optionally with its price tick: BTC/USDT=0.01
SYMBOL = re.compile(r"([A-Z0-9]{1,20})/([A-Z0-9]{1,20})(?:=(1|0\.0{0,7}1))?")
DAY_MS = 86_400_000
STEP_VOLATILITY = 0.0005  # relative standard deviation of one event's price move


class Ticker:
    """One symbol's 24h ticker as last sent. Prices are floats on the tick grid."""

    __slots__ = (
        "ask",
        "ask_qty",
        "base",
        "base_volume",
        "bid",
        "bid_qty",
        "count",
        "decimals",
        "event_time",
        "first_id",
        "high",
        "index",
        "last",
        "last_qty",
        "low",
        "open",
        "quote",
        "quote_volume",
        "symbol",
        "tick",
    )

    def __init__(
        self,
        index: int,
        base: str,
        price: float,
        volume: float,
        at_ms: int,
        quote: str = QUOTE,
        decimals: int | None = None,
    ) -> None:
        self.index = index
        self.base = base
        self.quote = quote
        self.symbol = f"{base}/{quote}"
        if decimals is None:  # about six significant digits, like real books
            decimals = max(0, min(8, 5 - math.floor(math.log10(price))))
        self.decimals = decimals
        self.tick = 10.0**-self.decimals
        # a coarse tick must not round a small price to zero
        self.last = round(max(price, 10 * self.tick), self.decimals)
        self.open = self.high = self.low = self.last
        self.bid = round(self.last - self.tick, self.decimals)
        self.ask = round(self.last + self.tick, self.decimals)
        self.bid_qty = self.ask_qty = self.last_qty = 1.0
        self.base_volume = volume
        self.quote_volume = volume * self.last
        self.first_id = 1_000_000 * (index + 1)
        self.count = 0
        self.event_time = at_ms

    @property
    def change(self) -> float:
        return round(self.last - self.open, self.decimals)

    @property
    def percentage(self) -> float:
        return round((self.last - self.open) / self.open * 100.0, 3)

    @property
    def vwap(self) -> float:
        return round(self.quote_volume / self.base_volume, self.decimals)

    def as_dict(self) -> dict[str, Any]:
        """The unified view (ccxt field names) of what was last sent."""
        return {
            "symbol": self.symbol,
            "timestamp": self.event_time,
            "bid": self.bid,
            "ask": self.ask,
            "last": self.last,
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "bidVolume": self.bid_qty,
            "askVolume": self.ask_qty,
            "baseVolume": self.base_volume,
            "quoteVolume": self.quote_volume,
            "change": self.change,
            "percentage": self.percentage,
            "count": self.count,
        }


class Market:
    """All simulated symbols, indexed by unified symbol, with one random source."""

    def __init__(self, tickers: list[Ticker], rng: random.Random) -> None:
        self.tickers = tickers
        self.by_symbol = {t.symbol: t for t in tickers}
        self._rng = rng

    @property
    def symbols(self) -> list[str]:
        return [t.symbol for t in self.tickers]

    def step(self, t: Ticker, at_ms: int) -> Ticker:
        """Move ``t`` one event forward (price walk, book, volumes) stamped ``at_ms``."""
        rng = self._rng
        move = t.last * STEP_VOLATILITY * rng.gauss(0.0, 1.0)
        # stay positive and at least a few ticks away from zero
        last = round(max(t.last + move, 10 * t.tick), t.decimals)
        t.last = last
        t.bid = round(last - t.tick * (1 + int(rng.random() * 3)), t.decimals)
        t.ask = round(last + t.tick * (1 + int(rng.random() * 3)), t.decimals)
        t.high = max(t.high, last)
        t.low = min(t.low, last)
        qty = round(rng.random() * 2.0 + 0.001, 6)
        t.last_qty = qty
        t.bid_qty = round(rng.random() * 10.0 + 0.01, 6)
        t.ask_qty = round(rng.random() * 10.0 + 0.01, 6)
        t.base_volume = round(t.base_volume + qty, 6)
        t.quote_volume = round(t.quote_volume + qty * last, 6)
        t.count += 1
        t.event_time = at_ms
        return t


def base_names(count: int) -> list[tuple[str, float | None]]:
    """``count`` base assets: the real ones first, then ``C0001``, ``C0002``..."""
    names: list[tuple[str, float | None]] = list(REAL_ASSETS[:count])
    names += [(f"C{i:04d}", None) for i in range(1, count - len(names) + 1)]
    return names


Pair = tuple[str, str, int | None]  # base, quote, price decimals (None: from the price)


def named_pairs(symbols: Sequence[str]) -> list[Pair]:
    """Each ``BASE/QUOTE[=TICK]`` as a pair; ValueError names a malformed or repeated one.

    ``TICK`` is the price tick the exchange lists (a power of ten: ``0.01``), which
    ccxt uses when it computes a ticker's ``average``.
    """
    pairs: list[Pair] = []
    for symbol in symbols:
        match = SYMBOL.fullmatch(symbol)
        if match is None:
            raise ValueError(
                f"symbol {symbol!r}: expected a spot symbol such as BTC/USDT or BTC/USDT=0.01"
            )
        base, quote, tick = match.groups()
        pairs.append((base, quote, len(tick.partition(".")[2]) if tick else None))
    names = [(base, quote) for base, quote, _ in pairs]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"symbols={list(symbols)}: expected distinct symbols, at least one")
    return pairs


def build_market(
    symbols: int | Sequence[str],
    seed: int | None = None,
    listed_decimals: Mapping[str, int] | None = None,
) -> Market:
    """A market of TRADING spot symbols: ``symbols`` of them quoted in USDT, or these
    (``BTC/USDT`` or, with the exchange's price tick, ``BTC/USDT=0.01``).

    ``listed_decimals`` are the price decimals the exchange lists for some symbols,
    used where a name gives no tick. Raises ValueError for a count below 1 or a
    malformed or repeated name.
    """
    if isinstance(symbols, int):
        if symbols < 1:
            raise ValueError(f"symbols={symbols}: expected at least 1")
        pairs: list[Pair] = [(base, QUOTE, None) for base, _ in base_names(symbols)]
    else:
        pairs = named_pairs(symbols)
    rng = random.Random(seed)
    start = now_ms()
    tickers = []
    listed = listed_decimals or {}
    for index, (base, quote, named) in enumerate(pairs):
        decimals = named if named is not None else listed.get(f"{base}/{quote}")
        price = PRICES.get(base) if quote == QUOTE else None
        if price is None:
            price = 10 ** rng.uniform(-2, 3)
        volume = rng.uniform(1e3, 1e6)
        tickers.append(Ticker(index, base, price, volume, start, quote, decimals))
    return Market(tickers, rng)
