"""One page of history through ccxt: what to ask, and what range the answer proves complete.

Plain functions over a ccxt (sync) client; no store, no Redis. A ``Page`` says
which rows came back (only those inside the task's range) and which range
they cover: for trades, the range from the cursor to this page's last time when
the page was full (more may follow at that same time), or to the task's end
when the exchange had nothing more; for candles, the minutes asked for. An
empty answer over a range is a complete, empty range: the exchange has no
trades (or candles) there.

On Binance trades are paged by ``fromId``: each page must start at the last
id + 1 and run without a hole, or the page fails (``ChainBroken``); the
trade-id chain is what proves nothing was skipped. On OKX (whose
``history-trades`` pages only backwards) trades are paged from the end of the
range towards its start: the first page by time, the next ones by trade id
(``after``), each covering from just after its oldest trade's time up to
where the previous page began.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from service.errors import TickerServiceError
from service.history.records import MINUTE_MS, Candle, Range, Stream, Trade

# Exchanges whose public trades ccxt pages by id (params fromId) with dense ids, and by
# time (since, params until) for a chunk's first page.
FROM_ID_EXCHANGES = frozenset({"binance", "binanceus"})
# Exchanges whose public trades ccxt pages backwards (OKX ``history-trades``: ``after`` a
# time with type 2, then ``after`` a trade id with type 1).
BACKWARD_EXCHANGES = frozenset({"okx", "myokx", "okxus"})
OKX_HISTORY_TRADES = "publicGetMarketHistoryTrades"
# Largest page each exchange answers, when ccxt's ``features`` does not say (trades never).
PAGE_LIMITS: dict[str, dict[Stream, int]] = {
    "binance": {Stream.CANDLES: 1000, Stream.TRADES: 1000},
    "binanceus": {Stream.CANDLES: 1000, Stream.TRADES: 1000},
    "okx": {Stream.CANDLES: 100, Stream.TRADES: 100},  # history-candles / history-trades
}
DEFAULT_PAGE_LIMIT = 100
# Binance answers aggTrades by time only within one hour (startTime..endTime).
TRADES_WINDOW_MS = 60 * MINUTE_MS


class ChainBroken(TickerServiceError):
    """A trade page did not continue the id chain: a hole that must not be stored as complete."""


class PagingNotSupported(TickerServiceError):
    """Trades of this exchange cannot be paged over a past range yet: a gap, never "complete".

    ccxt answers ``fetch_trades(since=...)`` on many exchanges with the latest
    trades, ignoring ``since``; taking that answer for the range would hide a hole.
    """


class NoProgress(TickerServiceError):
    """A full page of candles, none of them in the minutes asked for."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: a time, and on id-paged exchanges the next trade id."""

    at_ms: int
    from_id: int | None = None


@dataclass(frozen=True)
class Page:
    """One answer: rows inside the task's range, the range they prove complete, what is next."""

    rows: Sequence[Candle] | Sequence[Trade]
    covered: Range
    next: Cursor | None  # None: the task's range is complete


def page_limit(ccxt_id: str, stream: Stream) -> int:
    """The largest page ``ccxt_id`` allows for ``stream`` (the table; default 100)."""
    return PAGE_LIMITS.get(ccxt_id, {}).get(stream, DEFAULT_PAGE_LIMIT)


def candles_page(client: Any, symbol: str, cursor: Cursor, end_ms: int, limit: int) -> Page:
    """1m candles from ``cursor`` up to ``end_ms`` (exclusive), one request.

    One request asks for at most ``limit`` minutes, so whatever the answer holds is
    all the exchange has there (a minute without trades has no candle), whichever
    end of a longer range the exchange would serve first (Binance the oldest, OKX,
    given ``until``, the newest). Raises NoProgress when a full answer holds no
    candle of the minutes asked for.
    """
    stop = min(end_ms, cursor.at_ms + limit * MINUTE_MS)
    raw = client.fetch_ohlcv(symbol, "1m", cursor.at_ms, limit, {"until": stop - 1})
    rows = [_candle(c) for c in raw if cursor.at_ms <= c[0] < stop]
    if len(raw) >= limit and not rows:
        raise NoProgress(f"{symbol}: a full page of candles outside [{cursor.at_ms}, {stop}) ms")
    return Page(rows, Range(cursor.at_ms, stop), None if stop >= end_ms else Cursor(stop))


def trades_page(client: Any, symbol: str, cursor: Cursor, end_ms: int, limit: int) -> Page:
    """Public trades from ``cursor`` up to ``end_ms`` (exclusive), one request.

    The first page of a range goes by time (within Binance's hour), the next ones
    by id from the last id + 1. Raises ChainBroken (a hole in the id chain).
    """
    if cursor.from_id is not None:
        raw = client.fetch_trades(symbol, None, limit, {"fromId": cursor.from_id})
        _check_chain(raw, cursor.from_id)
    else:
        until = min(end_ms, cursor.at_ms + TRADES_WINDOW_MS) - 1
        raw = client.fetch_trades(symbol, cursor.at_ms, limit, {"until": until})
    trades = sorted((_trade(t) for t in raw), key=_trade_order)
    rows = [t for t in trades if cursor.at_ms <= t.timestamp < end_ms]
    if len(raw) < limit or trades[-1].timestamp >= end_ms:
        if cursor.from_id is None and len(raw) < limit and end_ms > until + 1:
            # A short answer by time covers only the window asked for (Binance's hour).
            return Page(rows, Range(cursor.at_ms, until + 1), Cursor(until + 1))
        return Page(rows, Range(cursor.at_ms, end_ms), None)
    last = trades[-1]
    # Trades at the last time may continue on the next page: covered up to it, not through it.
    covered = Range(cursor.at_ms, max(cursor.at_ms, last.timestamp))
    return Page(rows, covered, Cursor(last.timestamp, int(last.id) + 1))


def trades_page_backwards(
    client: Any, symbol: str, cursor: Cursor, start_ms: int, limit: int
) -> Page:
    """Public trades older than ``cursor`` down to ``start_ms``, one request (OKX).

    ``cursor.at_ms`` is where the range still missing ends (exclusive); the first
    page asks by time, the next ones by the id of the previous page's oldest trade,
    so trades sharing a millisecond across two pages are neither lost nor doubled.
    """
    params: dict[str, Any] = {"method": OKX_HISTORY_TRADES, "type": "2", "after": cursor.at_ms}
    if cursor.from_id is not None:
        params.update(type="1", after=cursor.from_id)
    raw = client.fetch_trades(symbol, None, limit, params)
    trades = sorted((_trade(t) for t in raw), key=_trade_order)
    rows = [t for t in trades if start_ms <= t.timestamp < cursor.at_ms]
    if len(raw) < limit or trades[0].timestamp < start_ms:
        return Page(rows, Range(start_ms, cursor.at_ms), None)
    oldest = trades[0]
    # Trades at the oldest time may continue on the next page: covered from just after it.
    covered = Range(min(oldest.timestamp + 1, cursor.at_ms), cursor.at_ms)
    return Page(rows, covered, Cursor(covered.start_ms, int(oldest.id)))


def _check_chain(raw: list[dict[str, Any]], from_id: int) -> None:
    ids = [int(t["id"]) for t in raw]
    if ids and ids != list(range(from_id, from_id + len(ids))):
        first_bad = next(i for i, got in enumerate(ids) if got != from_id + i)
        before = from_id + first_bad - 1
        raise ChainBroken(f"trade ids jump from {before} to {ids[first_bad]} (from id {from_id})")


def _candle(raw: list[Any]) -> Candle:
    open_time, o, h, low, c, v = raw[:6]
    return Candle(int(open_time), float(o), float(h), float(low), float(c), float(v or 0.0))


def _trade(raw: dict[str, Any]) -> Trade:
    return Trade(
        id=str(raw["id"]),
        timestamp=int(raw["timestamp"]),
        price=float(raw["price"]),
        amount=float(raw["amount"]),
        side=raw.get("side"),
    )


def _trade_order(trade: Trade) -> tuple[int, int, str]:
    # Numeric ids in numeric order (text order puts "10" before "9").
    return (trade.timestamp, int(trade.id) if trade.id.isdigit() else 0, trade.id)
