"""The records of market history, shared by the store, the ledger, the backfill and readers.

Times are UTC epoch milliseconds everywhere; a ``Range`` is half-open,
``[start_ms, end_ms)``, so adjacent ranges meet without overlapping and a
minute of candles is ``Range(t, t + MINUTE_MS)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MINUTE_MS = 60_000


class Stream(StrEnum):
    """What a symbol row may collect besides tickers."""

    TRADES = "trades"
    CANDLES = "candles"


class Timeframe(StrEnum):
    """Candle timeframes the service keeps (only 1m for now)."""

    M1 = "1m"


class CandleSource(StrEnum):
    """Where a stored candle came from."""

    REST = "rest"
    WS = "ws"
    TRADES = "trades"


class GapReason(StrEnum):
    """Why a range is not complete."""

    NOT_FETCHED = "not-fetched"
    FETCH_FAILED = "fetch-failed"
    SERVICE_DOWN = "service-down"


@dataclass(frozen=True, order=True)
class StreamKey:
    """One (exchange, symbol, stream): the unit the ledger tracks. ``exchange`` is the row name."""

    exchange: str
    symbol: str
    stream: Stream
    timeframe: Timeframe | None = None  # candles only

    def __str__(self) -> str:
        suffix = f":{self.timeframe}" if self.timeframe else ""
        return f"{self.exchange} {self.symbol} {self.stream}{suffix}"


@dataclass(frozen=True, order=True)
class Range:
    """``[start_ms, end_ms)`` in UTC epoch milliseconds."""

    start_ms: int
    end_ms: int

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise ValueError(f"range ends before it starts: {self.start_ms} > {self.end_ms}")

    @property
    def empty(self) -> bool:
        return self.end_ms == self.start_ms


@dataclass(frozen=True)
class Candle:
    """One OHLCV candle; ``open_time`` is the start of its minute. Only closed candles are final."""

    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool = True


@dataclass(frozen=True)
class Trade:
    """One public trade; ``id`` is the exchange's trade id (text; Binance's are sequential)."""

    id: str
    timestamp: int
    price: float
    amount: float
    side: str | None  # "buy" | "sell" | None when the exchange does not say


@dataclass(frozen=True)
class Gap:
    """A range that is not complete, and why (``error`` when a fetch failed)."""

    range: Range
    reason: GapReason
    error: str | None = None


@dataclass(frozen=True)
class Coverage:
    """What the ledger knows of one stream over the wanted range.

    ``complete`` and ``gaps`` are sorted, disjoint, and together cover the
    wanted range; ``newest_ms`` is the newest stored row's time (None when empty).
    """

    key: StreamKey
    wanted: Range
    complete: tuple[Range, ...]
    gaps: tuple[Gap, ...]
    newest_ms: int | None

    @property
    def gap_minutes(self) -> float:
        return sum(g.range.end_ms - g.range.start_ms for g in self.gaps) / MINUTE_MS


@dataclass(frozen=True)
class Wanted:
    """What one symbol row asks to collect: a stream from ``since_ms`` up to now."""

    key: StreamKey
    since_ms: int
