"""OKX spot history ``/api/v5/market/history-candles``, ``history-trades``, ``candles``, ``trades``.

Answers are OKX's envelope ``{"code": "0", "msg": "", "data": [...]}``, rows
newest first. Candles (instId, bar=1m, after, before, limit): ``after`` and
``before`` are exclusive timestamps (rows older than ``after``, newer than
``before``); with ``after`` or neither, the newest ``limit`` rows of the range,
with only ``before`` the oldest ones (the page just after it). ``history-candles``
takes limit up to 100, ``candles`` up to 300 and serves the last 1440 minutes
only. A row is ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``, all
strings, confirm "0" for the open minute. Trades (instId, type=1 by tradeId or 2
by ts, after, before, limit up to 100; ``trades``: the latest, up to 500) are
``{"instId", "side", "sz", "px", "source", "tradeId", "ts"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from service.history.records import MINUTE_MS, Trade
from service.simulator import history
from service.simulator.history import AMOUNT_DECIMALS, EPOCH_MS, fixed
from service.simulator.pages import PageKline, kline_page, trades_by_id, trades_in
from service.simulator.protocol import json_response
from workers.clock import now_ms

RECENT_CANDLES = 1440
FAR_FUTURE_MS = 1 << 62
Handler = Callable[[web.Request], Awaitable[web.Response]]


class OkxError(Exception):
    """A request OKX refuses: answered with HTTP 200 (400 for parameters) and its code."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise OkxError("51000", f"Parameter {name} error", 400)
    return int(value)


def _limit(query: Mapping[str, str], most: int, default: int = 100) -> int:
    limit = _int(query, "limit")
    return default if limit is None else max(1, min(limit, most))  # OKX caps silently


def candle_row(symbol: str, row: PageKline) -> list[str]:
    """One kline as OKX's 9-column candle row."""
    k, closed = row
    px, qty = history.price_decimals(symbol), AMOUNT_DECIMALS
    quote = fixed(k.quote, px + qty)
    return [
        str(k.open_time), fixed(k.open, px), fixed(k.high, px), fixed(k.low, px),
        fixed(k.close, px), fixed(k.volume, qty), quote, quote, "1" if closed else "0",
    ]  # fmt: skip


def trade_row(symbol: str, market_id: str, t: Trade) -> dict[str, str]:
    """One trade as OKX's trade row (``side`` is the taker's)."""
    return {
        "instId": market_id,
        "side": t.side or "buy",
        "sz": history.amount_text(t.amount),
        "px": history.price_text(symbol, t.price),
        "source": "0",
        "tradeId": t.id,
        "ts": str(t.timestamp),
    }


class OkxHistory:
    """The history routes over ``symbols`` (OKX instId -> unified symbol)."""

    def __init__(self, symbols: Mapping[str, str]) -> None:
        self.symbols = symbols

    def add_routes(self, app: web.Application) -> None:
        market = "/api/v5/market/"
        app.router.add_get(market + "history-candles", self._guard(self.history_candles))
        app.router.add_get(market + "candles", self._guard(self.candles))
        app.router.add_get(market + "history-trades", self._guard(self.history_trades))
        app.router.add_get(market + "trades", self._guard(self.trades))

    def _guard(self, handler: Callable[[Mapping[str, str], str], list[Any]]) -> Handler:
        async def route(request: web.Request) -> web.Response:
            try:
                market_id = request.query.get("instId", "")
                if market_id not in self.symbols:
                    raise OkxError("51001", "Instrument ID does not exist")
                data = handler(request.query, market_id)
            except OkxError as exc:
                return json_response({"code": exc.code, "msg": exc.msg, "data": []}, exc.status)
            return json_response({"code": "0", "msg": "", "data": data})

        return route

    def history_candles(self, query: Mapping[str, str], market_id: str) -> list[Any]:
        return self._candles(query, market_id, _limit(query, 100), EPOCH_MS)

    def candles(self, query: Mapping[str, str], market_id: str) -> list[Any]:
        now = now_ms()
        recent = now - now % MINUTE_MS - (RECENT_CANDLES - 1) * MINUTE_MS
        return self._candles(query, market_id, _limit(query, 300), recent)

    def _candles(
        self, query: Mapping[str, str], market_id: str, limit: int, oldest: int
    ) -> list[Any]:
        if query.get("bar", "1m") != "1m":
            raise OkxError("51000", "Parameter bar error: only 1m candles are simulated", 400)
        symbol, after, before = self.symbols[market_id], _int(query, "after"), _int(query, "before")
        start = max(oldest, 0 if before is None else before + 1)
        end = FAR_FUTURE_MS if after is None else after
        newest = after is not None or before is None
        page = kline_page(symbol, start, end, limit, now_ms(), newest=newest)
        return [candle_row(symbol, row) for row in reversed(page)]

    def history_trades(self, query: Mapping[str, str], market_id: str) -> list[Any]:
        symbol, limit, now = self.symbols[market_id], _limit(query, 100), now_ms()
        after, before = _int(query, "after"), _int(query, "before")
        newest = after is not None or before is None
        kind = query.get("type", "1")
        if kind == "1":
            first = 0 if before is None else before + 1
            trades = trades_by_id(symbol, first, after, limit, now, newest=newest)
        elif kind == "2":
            first = 0 if before is None else before + 1
            end = FAR_FUTURE_MS if after is None else after
            trades = trades_in(symbol, first, end, limit, now, newest=newest)
        else:
            raise OkxError("51000", "Parameter type error", 400)
        return [trade_row(symbol, market_id, t) for t in reversed(trades)]

    def trades(self, query: Mapping[str, str], market_id: str) -> list[Any]:
        symbol, limit = self.symbols[market_id], _limit(query, 500)
        trades = trades_by_id(symbol, 0, None, limit, now_ms(), newest=True)
        return [trade_row(symbol, market_id, t) for t in reversed(trades)]
