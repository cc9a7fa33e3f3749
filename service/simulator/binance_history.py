"""Binance spot history: ``/api/v3/klines``, ``/aggTrades``, ``/historicalTrades``; weights.

Rows are Binance's. ``klines`` (symbol, interval=1m, startTime, endTime, limit
default 500, max 1000) answers the klines whose open time is in
``[startTime, endTime]`` (the first ``limit``; without startTime the last
``limit`` up to endTime or now), each a 12-column row::

    [1767225600000, "62426.41", "62486.76", "62426.41", "62478.22", "1.76530",
     1767225659999, "110246.4823450", 27, "0.98000", "61231.1000000", "0"]

``aggTrades`` (symbol, fromId | startTime/endTime at most one hour apart, not
both: -1128; limit default 500, max 1000) answers ``{"a", "p", "q", "f", "l", "T", "m", "M"}``
rows (one trade per aggregate, so ``a == f == l``, the trade id); without fromId
or times, the most recent. ``historicalTrades`` (symbol, fromId, limit) answers
``{"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}``.
Times are inclusive on both ends, as Binance's; a limit over 1000 serves 1000.
Only trades up to now are served; the minute holding now is served as a kline of
its trades so far (still open: a client must not take it as final).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from service.history.records import MINUTE_MS, Trade
from service.simulator import history
from service.simulator.history import AMOUNT_DECIMALS, Kline, fixed
from service.simulator.pages import kline_page, trades_by_id, trades_in
from service.simulator.protocol import json_response
from workers.clock import now_ms

DEFAULT_LIMIT = 500
MAX_LIMIT = 1000
MAX_TRADES_SPAN_MS = 3_600_000
Handler = Callable[[web.Request], Awaitable[web.Response]]


class BinanceError(Exception):
    """A request Binance refuses: answered 400 with its code and message."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        msg = f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        raise BinanceError(-1100, msg)
    return int(value)


def _limit(query: Mapping[str, str]) -> int:
    limit = _int(query, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise BinanceError(-1130, f"Invalid data sent for a parameter: limit={limit}.")
    return min(limit, MAX_LIMIT)  # Binance serves at most 1000 rows, whatever is asked


def kline_row(symbol: str, k: Kline) -> list[Any]:
    """``k`` as Binance's 12-column kline row (numbers as exact decimal strings)."""
    px, qty = history.price_decimals(symbol), AMOUNT_DECIMALS
    return [
        k.open_time, fixed(k.open, px), fixed(k.high, px), fixed(k.low, px), fixed(k.close, px),
        fixed(k.volume, qty), k.open_time + MINUTE_MS - 1, fixed(k.quote, px + qty), k.count,
        fixed(k.taker_buy_volume, qty), fixed(k.taker_buy_quote, px + qty), "0",
    ]  # fmt: skip


def agg_trade_row(symbol: str, t: Trade) -> dict[str, Any]:
    """``t`` as one ``aggTrades`` row; ``m`` (buyer is maker) means the taker sold."""
    trade_id, price = int(t.id), history.price_text(symbol, t.price)
    return {
        "a": trade_id, "p": price, "q": history.amount_text(t.amount), "f": trade_id,
        "l": trade_id, "T": t.timestamp, "m": t.side == "sell", "M": True,
    }  # fmt: skip


def historical_trade_row(symbol: str, t: Trade) -> dict[str, Any]:
    """``t`` as one ``historicalTrades`` (or ``trades``) row."""
    return {
        "id": int(t.id),
        "price": history.price_text(symbol, t.price),
        "qty": history.amount_text(t.amount),
        "quoteQty": history.quote_text(symbol, t.price, t.amount),
        "time": t.timestamp,
        "isBuyerMaker": t.side == "sell",
        "isBestMatch": True,
    }


class BinanceHistory:
    """The history routes over ``symbols`` (Binance market id -> unified symbol)."""

    def __init__(self, symbols: Mapping[str, str]) -> None:
        self.symbols = symbols

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/klines", self._guard(self.klines))
        app.router.add_get("/api/v3/aggTrades", self._guard(self.agg_trades))
        app.router.add_get("/api/v3/historicalTrades", self._guard(self.historical_trades))

    def _guard(self, handler: Callable[[Mapping[str, str], str], Any]) -> Handler:
        async def route(request: web.Request) -> web.Response:
            try:
                symbol = self._symbol(request.query)
                return json_response(handler(request.query, symbol))
            except BinanceError as exc:
                return json_response({"code": exc.code, "msg": exc.msg}, status=400)

        return route

    def _symbol(self, query: Mapping[str, str]) -> str:
        market_id = query.get("symbol")
        if not market_id:
            raise BinanceError(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        if market_id not in self.symbols:
            raise BinanceError(-1121, "Invalid symbol.")
        return self.symbols[market_id]

    def klines(self, query: Mapping[str, str], symbol: str) -> list[list[Any]]:
        if query.get("interval") != "1m":
            raise BinanceError(-1120, "Invalid interval: the simulator serves 1m klines only.")
        start, end, limit = _int(query, "startTime"), _int(query, "endTime"), _limit(query)
        now = now_ms()
        last = now if end is None else end  # inclusive
        page = kline_page(symbol, start or 0, last + 1, limit, now, newest=start is None)
        return [kline_row(symbol, k) for k, _closed in page]

    def agg_trades(self, query: Mapping[str, str], symbol: str) -> list[dict[str, Any]]:
        from_id, limit = _int(query, "fromId"), _limit(query)
        start, end = _int(query, "startTime"), _int(query, "endTime")
        now = now_ms()
        if from_id is not None:
            if start is not None or end is not None:
                raise BinanceError(-1128, "Combination of optional parameters invalid.")
            trades = trades_by_id(symbol, from_id, None, limit, now)
        elif start is None and end is None:
            trades = trades_by_id(symbol, 0, None, limit, now, newest=True)
        else:
            start, end = _span(start, end)
            trades = trades_in(symbol, start, end + 1, limit, now)
        return [agg_trade_row(symbol, t) for t in trades]

    def historical_trades(self, query: Mapping[str, str], symbol: str) -> list[dict[str, Any]]:
        from_id, limit, now = _int(query, "fromId"), _limit(query), now_ms()
        if from_id is None:
            trades = trades_by_id(symbol, 0, None, limit, now, newest=True)
        else:
            trades = trades_by_id(symbol, from_id, None, limit, now)
        return [historical_trade_row(symbol, t) for t in trades]


def _span(start: int | None, end: int | None) -> tuple[int, int]:
    """``[startTime, endTime]`` of an aggTrades request: one given, the other an hour away."""
    if start is None:
        start = max(0, (end or 0) - MAX_TRADES_SPAN_MS)
    if end is None:
        end = start + MAX_TRADES_SPAN_MS
    if end < start:
        raise BinanceError(-1127, "startTime is after endTime.")
    if end - start > MAX_TRADES_SPAN_MS:
        raise BinanceError(-1127, "More than 1 hours between startTime and endTime.")
    return start, end
