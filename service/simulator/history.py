"""The simulator's market history: trades and 1m klines as a pure function of (symbol, time).

Every symbol trades from ``EPOCH_MS`` (2026-01-01T00:00:00Z) on, exactly
``trades_per_hour(symbol)`` trades in every UTC hour, so trade ids are sequential
without holes (id 0 is the first trade after the epoch) and an id maps to its hour
by one division. An hour is generated from a seed of (symbol, hour) alone: about one
minute in ten has no trade at all (a complete, empty minute; no kline, as Binance
omits it), the others share the hour's trades at random milliseconds. Prices follow
a smooth curve of time plus a few ticks of noise; prices and amounts are whole ticks
and lots, so their decimal strings parse back to exactly these floats and kline
volumes are exact sums. Nothing here reads the clock: the routes cut at "now".

A range is half-open, ``[start_ms, end_ms)``, like ``service.history.records.Range``.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from array import array
from dataclasses import dataclass
from functools import lru_cache

from service.history.records import MINUTE_MS, Candle, Trade
from service.simulator.market import PRICES

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: id 0
HOUR_MS = 3_600_000
AMOUNT_DECIMALS = 5  # lot 0.00001
EMPTY_MINUTE_SHARE = 0.1
_LOT = 10**AMOUNT_DECIMALS


def _digest(symbol: str) -> int:
    # a stable per-symbol number (Python's hash() changes per process)
    return int.from_bytes(hashlib.sha256(symbol.encode()).digest()[:8], "big")


@lru_cache(maxsize=1024)
def trades_per_hour(symbol: str) -> int:
    """How many trades ``symbol`` has in every hour: 1800, 2700, ... or 5400."""
    return 1800 + 900 * (_digest(symbol) % 5)


@lru_cache(maxsize=1024)
def base_price(symbol: str) -> float:
    """Where ``symbol``'s price curve is centred: the market's price for known bases."""
    base, _, quote = symbol.partition("/")
    known = PRICES.get(base) if quote == "USDT" else None
    return known if known is not None else 10 ** ((_digest(symbol) % 5000) / 1000 - 2)


@lru_cache(maxsize=1024)
def price_decimals(symbol: str) -> int:
    """Decimals of ``symbol``'s price tick: about seven significant digits (BTC/USDT: 2)."""
    return max(0, min(8, 6 - math.floor(math.log10(base_price(symbol)))))


@dataclass(frozen=True)
class Kline:
    """A 1m kline with the extra figures Binance and OKX rows carry; amounts in lots,
    prices in ticks, ``quote`` in tick*lot units (exact integers)."""

    open_time: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote: int
    count: int
    taker_buy_volume: int
    taker_buy_quote: int


class _Hour:
    """One symbol's trades in one hour, as parallel arrays (compact, cached)."""

    __slots__ = ("amounts", "buys", "first_id", "prices", "times")

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.times = array("q")
        self.prices = array("q")
        self.amounts = array("q")
        self.buys = array("b")

    def trade(self, index: int, decimals: int) -> Trade:
        return Trade(
            id=str(self.first_id + index),
            timestamp=self.times[index],
            price=self.prices[index] / 10**decimals,
            amount=self.amounts[index] / _LOT,
            side="buy" if self.buys[index] else "sell",
        )


def _curve(base: float, phase: float, t_ms: int) -> float:
    # smooth, continuous across hours: a pure function of time
    x = (t_ms - EPOCH_MS) / HOUR_MS
    wave = 0.03 * math.sin(x / 1.9 + phase) + 0.01 * math.sin(x * 7.7 + phase)
    return base * (1 + wave + 0.002 * math.sin(x * 97.0))


@lru_cache(maxsize=128)  # up to 128 x 5400 x 25 bytes: ~17 MB
def _hour(symbol: str, hour: int) -> _Hour:
    """The trades of hour ``hour`` (hours since the epoch) of ``symbol``."""
    rng = random.Random(f"{symbol}|{hour}")
    count = trades_per_hour(symbol)
    start = EPOCH_MS + hour * HOUR_MS
    minutes = [start + m * MINUTE_MS for m in range(60) if rng.random() >= EMPTY_MINUTE_SHARE]
    minutes = minutes or [start]
    # one 64-bit draw per trade: its minute, millisecond, price noise, side and amount
    draws = sorted(
        (minutes[bits % len(minutes)] + (bits >> 8) % MINUTE_MS, bits >> 24)
        for bits in (rng.getrandbits(64) for _ in range(count))
    )
    out = _Hour(hour * count)
    scale, base = 10 ** price_decimals(symbol), base_price(symbol)
    phase = (_digest(symbol) % 1000) / 159.0
    mean_lots = max(1.0, 0.05 * _LOT * 64000 / base)
    for stamp, bits in draws:
        out.times.append(stamp)
        out.prices.append(max(1, round(_curve(base, phase, stamp) * scale) + (bits & 7) - 3))
        uniform = ((bits >> 4) + 1) / (1 << 36)  # (0, 1]
        out.amounts.append(1 + int(-math.log(uniform) * mean_lots))
        out.buys.append((bits >> 3) & 1)
    return out


def hours_of(start_ms: int, end_ms: int) -> range:
    """The hour numbers (since the epoch) that ``[start_ms, end_ms)`` touches."""
    first = max(0, (start_ms - EPOCH_MS) // HOUR_MS)
    last = (end_ms - 1 - EPOCH_MS) // HOUR_MS
    return range(first, last + 1)


def trades_between(symbol: str, start_ms: int, end_ms: int) -> list[Trade]:
    """Every trade of ``symbol`` with a timestamp in ``[start_ms, end_ms)``, sorted by id."""
    decimals = price_decimals(symbol)
    trades: list[Trade] = []
    for hour in hours_of(start_ms, end_ms):
        h = _hour(symbol, hour)
        lo, hi = bisect.bisect_left(h.times, start_ms), bisect.bisect_left(h.times, end_ms)
        trades += [h.trade(i, decimals) for i in range(lo, hi)]
    return trades


def trades_from_id(symbol: str, from_id: int, limit: int) -> list[Trade]:
    """Up to ``limit`` trades of ``symbol`` from id ``from_id`` on (inclusive), by id.

    There is no end: the routes cut at "now". A negative ``from_id`` starts at 0.
    """
    per_hour, decimals = trades_per_hour(symbol), price_decimals(symbol)
    trade_id = max(0, from_id)
    trades: list[Trade] = []
    while len(trades) < limit:
        hour, index = divmod(trade_id, per_hour)
        h = _hour(symbol, hour)
        stop = min(per_hour, index + limit - len(trades))
        trades += [h.trade(i, decimals) for i in range(index, stop)]
        trade_id += stop - index
    return trades


def first_id_at(symbol: str, t_ms: int) -> int:
    """The id of ``symbol``'s first trade at or after ``t_ms`` (the count of trades before it)."""
    if t_ms <= EPOCH_MS:
        return 0
    hour, per_hour = (t_ms - EPOCH_MS) // HOUR_MS, trades_per_hour(symbol)
    return hour * per_hour + bisect.bisect_left(_hour(symbol, hour).times, t_ms)


@lru_cache(maxsize=1024)
def hour_klines(symbol: str, hour: int) -> tuple[Kline, ...]:
    """The klines of hour ``hour`` of ``symbol`` (every minute of it that has trades)."""
    h = _hour(symbol, hour)
    klines: list[Kline] = []
    index, size = 0, len(h.times)
    while index < size:
        minute = h.times[index] - h.times[index] % MINUTE_MS
        stop = bisect.bisect_left(h.times, minute + MINUTE_MS, index)
        klines.append(_aggregate(h, minute, index, stop))
        index = stop
    return tuple(klines)


def _aggregate(h: _Hour, minute: int, lo: int, hi: int) -> Kline:
    prices, amounts, buys = h.prices[lo:hi], h.amounts[lo:hi], h.buys[lo:hi]
    quote = [p * a for p, a in zip(prices, amounts, strict=True)]
    return Kline(
        open_time=minute,
        open=prices[0],
        high=max(prices),
        low=min(prices),
        close=prices[-1],
        volume=sum(amounts),
        quote=sum(quote),
        count=hi - lo,
        taker_buy_volume=sum(a for a, b in zip(amounts, buys, strict=True) if b),
        taker_buy_quote=sum(q for q, b in zip(quote, buys, strict=True) if b),
    )


def klines(symbol: str, start_ms: int, end_ms: int) -> list[Kline]:
    """The 1m klines with an open time in ``[start_ms, end_ms)`` (none for a minute without
    trades)."""
    rows: list[Kline] = []
    for hour in hours_of(start_ms, end_ms):
        rows += [k for k in hour_klines(symbol, hour) if start_ms <= k.open_time < end_ms]
    return rows


def partial_kline(symbol: str, minute_ms: int, until_ms: int) -> Kline | None:
    """The kline of the minute at ``minute_ms`` from its trades before ``until_ms`` (None if none):
    the still-open minute as an exchange serves it."""
    hour = (minute_ms - EPOCH_MS) // HOUR_MS
    if hour < 0:
        return None
    h = _hour(symbol, hour)
    lo = bisect.bisect_left(h.times, minute_ms)
    hi = bisect.bisect_left(h.times, min(until_ms, minute_ms + MINUTE_MS))
    return _aggregate(h, minute_ms, lo, hi) if hi > lo else None


def as_candle(symbol: str, k: Kline, *, closed: bool = True) -> Candle:
    """``k`` as the shared ``Candle`` record (floats equal to the decimal strings served)."""
    tick, lot = 10 ** price_decimals(symbol), _LOT
    return Candle(
        k.open_time, k.open / tick, k.high / tick, k.low / tick, k.close / tick,
        k.volume / lot, closed,
    )  # fmt: skip


def klines_between(symbol: str, start_ms: int, end_ms: int) -> list[Candle]:
    """The closed 1m candles of ``symbol`` with an open time in ``[start_ms, end_ms)``,
    built from ``trades_between``; a minute without trades has no candle (as Binance)."""
    return [as_candle(symbol, k) for k in klines(symbol, start_ms, end_ms)]


def fixed(value: int, decimals: int) -> str:
    """The exact decimal string of ``value * 10**-decimals``: ``fixed(12345, 2) == '123.45'``."""
    if decimals == 0:
        return str(value)
    whole, part = divmod(value, 10**decimals)
    return f"{whole}.{part:0{decimals}d}"


def price_text(symbol: str, price: float) -> str:
    """A price of ``symbol`` as the exchange writes it (all its tick's decimals)."""
    return f"{price:.{price_decimals(symbol)}f}"


def amount_text(amount: float) -> str:
    """An amount as the exchange writes it (all the lot's decimals)."""
    return f"{amount:.{AMOUNT_DECIMALS}f}"


def quote_text(symbol: str, price: float, amount: float) -> str:
    """``price * amount`` exactly, as a decimal string."""
    decimals = price_decimals(symbol)
    return fixed(round(price * 10**decimals) * round(amount * _LOT), decimals + AMOUNT_DECIMALS)
