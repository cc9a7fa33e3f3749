"""The client's history records: ``Candle``, ``Trade``, ``Coverage``; times in and out.

Fields carry the README's names (the csv columns of ``ticker-service candles``
and ``trades``, the keys of ``coverage --json``): instants are UTC epoch
milliseconds, with a timezone-aware UTC datetime beside each (``_utc``),
computed on access. ``instant_ms`` turns what a caller passes as a time (an
aware datetime or epoch ms) into epoch ms, and refuses a naive datetime rather
than guess its timezone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from service.history.records import MINUTE_MS, GapReason, Stream
from ticker_client.errors import InvalidArgument

Instant = datetime | int


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def instant_ms(value: Instant, name: str) -> int:
    """``value`` (an aware datetime, or UTC epoch ms) as epoch ms; raises InvalidArgument.

    >>> instant_ms(datetime(2026, 1, 1, tzinfo=UTC), "start")
    1767225600000
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgument(
                f"{name}={value!r}: a datetime without a timezone is ambiguous; "
                "pass datetime(..., tzinfo=UTC) or epoch milliseconds"
            )
        return int(value.timestamp() * 1000)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidArgument(
        f"{name}={value!r}: expected a timezone-aware datetime or UTC epoch milliseconds (int >= 0)"
    )


@dataclass(frozen=True, slots=True)
class Candle:
    """One stored 1m candle of ``symbol`` on ``exchange``.

    ``open_time`` is the start of its minute (UTC epoch ms; ``open_time_utc`` as
    a datetime); ``closed`` is False only for the current minute's candle, still
    changing. A minute without trades has no candle (as on the exchanges).

    Example::

        async for candle in client.candles("binance", "BTC/USDT", start, end):
            print(candle.open_time_utc, candle.open, candle.high, candle.low, candle.close)
    """

    exchange: str
    symbol: str
    open_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool

    @property
    def open_time_utc(self) -> datetime:
        """``open_time`` as a UTC datetime."""
        return _utc(self.open_time)


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade of ``symbol`` on ``exchange``.

    ``id`` is the exchange's trade id (text; sequential on Binance),
    ``timestamp`` the exchange's time of the trade (UTC epoch ms;
    ``timestamp_utc`` as a datetime), ``side`` "buy", "sell" or None when the
    exchange does not say.

    Example::

        for trade in client.trades("binance", "BTC/USDT", start, end):
            print(trade.id, trade.timestamp_utc, trade.price, trade.amount, trade.side)
    """

    exchange: str
    symbol: str
    id: str
    timestamp: int
    price: float
    amount: float
    side: str | None

    @property
    def timestamp_utc(self) -> datetime:
        """``timestamp`` as a UTC datetime."""
        return _utc(self.timestamp)


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``[start_ms, end_ms)`` in UTC epoch ms, with the datetimes beside."""

    start_ms: int
    end_ms: int

    @property
    def start_utc(self) -> datetime:
        return _utc(self.start_ms)

    @property
    def end_utc(self) -> datetime:
        return _utc(self.end_ms)

    @property
    def minutes(self) -> float:
        return (self.end_ms - self.start_ms) / MINUTE_MS


@dataclass(frozen=True, slots=True)
class HistoryGap(TimeRange):
    """A range the store does not hold complete, and why: ``reason`` is
    ``not-fetched``, ``fetch-failed`` (``error`` says what failed) or ``service-down``."""

    reason: GapReason
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the store holds complete of one stream, as ``ticker-service coverage`` shows it.

    ``stream`` is ``trades`` or ``candles`` (``timeframe`` ``1m``); over the
    wanted range ``[since_ms, until_ms)`` (by default the row's
    ``history_since`` up to the start of the current minute), ``complete`` and
    ``gaps`` are sorted and together cover it all; ``complete_until_ms`` is how
    far it is gap-free from ``since_ms``; ``newest_ms`` the newest stored row
    (None when none). ``gap_free`` is True when there is no gap.

    Example::

        for stream in await client.coverage("binance", "BTC/USDT"):
            print(stream.stream, stream.gap_free, stream.complete_until_utc)
            for gap in stream.gaps:
                print("  gap", gap.start_utc, gap.end_utc, gap.reason, gap.error or "")
    """

    exchange: str
    symbol: str
    stream: Stream
    timeframe: str | None
    since_ms: int
    until_ms: int
    complete: tuple[TimeRange, ...]
    gaps: tuple[HistoryGap, ...]
    complete_until_ms: int
    newest_ms: int | None

    @property
    def gap_free(self) -> bool:
        return not self.gaps

    @property
    def gap_minutes(self) -> float:
        return sum(gap.minutes for gap in self.gaps)

    @property
    def since_utc(self) -> datetime:
        return _utc(self.since_ms)

    @property
    def until_utc(self) -> datetime:
        return _utc(self.until_ms)

    @property
    def complete_until_utc(self) -> datetime:
        return _utc(self.complete_until_ms)

    @property
    def newest_utc(self) -> datetime | None:
        return None if self.newest_ms is None else _utc(self.newest_ms)
