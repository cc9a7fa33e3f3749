"""OKX spot: REST ``/api/v5`` and the public websocket ``tickers`` channel.

REST: ``GET /api/v5/public/instruments?instType=SPOT``, ``/api/v5/market/tickers
?instType=SPOT``, ``/api/v5/market/ticker?instId=BTC-USDT``, ``/api/v5/public/time``
(answers ``{"code": "0", "msg": "", "data": [...]}``). Websocket on
``/ws/v5/public`` (and ``/business``, ``/private``). A client sends::

    {"op": "subscribe", "args": [{"channel": "tickers", "instId": "BTC-USDT"}]}

and gets one ``{"event": "subscribe", "arg": {...}, "connId": "..."}`` per arg,
then pushes such as::

    {"arg": {"channel": "tickers", "instId": "BTC-USDT"}, "data": [{"instType": "SPOT",
     "instId": "BTC-USDT", "last": "64028.6", "askPx": "64028.7", "bidPx": "64028.5",
     ..., "ts": "1786538789464"}]}

``ts`` (ccxt's ticker ``timestamp``) is the send time in epoch ms. A text
``ping`` is answered with ``pong``; an unknown instId gets OKX's error 60018.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from service.simulator.feed import Connection, Stream
from service.simulator.limits import Verdict
from service.simulator.market import Market, Ticker
from service.simulator.okx_history import OkxHistory
from service.simulator.protocol import Cost, ExchangeProtocol, json_response
from workers.clock import now_ms

CHANNEL = "tickers"
QTY = "%.8f"
API = "/api/v5/"
HISTORY_ENDPOINTS = frozenset(
    {"market/history-candles", "market/candles", "market/history-trades", "market/trades"}
)
_TICKER_FIELDS = (
    '{"arg":{"channel":"tickers","instId":"{id}"},"data":[{"instType":"SPOT","instId":"{id}",'
    '"last":"{px}","lastSz":"{qty}","askPx":"{px}","askSz":"{qty}","bidPx":"{px}",'
    '"bidSz":"{qty}","open24h":"{px}","high24h":"{px}","low24h":"{px}","sodUtc0":"{px}",'
    '"sodUtc8":"{px}","volCcy24h":"{qty}","vol24h":"{qty}","ts":"%d"}]}'
)


def market_id(t: Ticker) -> str:
    return f"{t.base}-{t.quote}"


def ticker_render(t: Ticker) -> Callable[[Ticker], str]:
    """A renderer of ``t``'s ``tickers`` push frame."""
    template = _TICKER_FIELDS.replace("{id}", market_id(t)).replace("{px}", f"%.{t.decimals}f")
    template = template.replace("{qty}", QTY)

    def render(t: Ticker) -> str:
        return template % (
            t.last, t.last_qty, t.ask, t.ask_qty, t.bid, t.bid_qty, t.open, t.high, t.low,
            t.open, t.open, t.quote_volume, t.base_volume, t.event_time,
        )  # fmt: skip

    return render


def rest_ticker(t: Ticker) -> dict[str, Any]:
    """``t`` as one entry of ``GET /api/v5/market/tickers``."""
    px = f"%.{t.decimals}f"
    return {
        "instType": "SPOT",
        "instId": market_id(t),
        "last": px % t.last,
        "lastSz": QTY % t.last_qty,
        "askPx": px % t.ask,
        "askSz": QTY % t.ask_qty,
        "bidPx": px % t.bid,
        "bidSz": QTY % t.bid_qty,
        "open24h": px % t.open,
        "high24h": px % t.high,
        "low24h": px % t.low,
        "sodUtc0": px % t.open,
        "sodUtc8": px % t.open,
        "volCcy24h": QTY % t.quote_volume,
        "vol24h": QTY % t.base_volume,
        "ts": str(t.event_time),
    }


def instrument(t: Ticker) -> dict[str, Any]:
    """``t`` as one entry of ``GET /api/v5/public/instruments``: a live spot market."""
    return {
        "instType": "SPOT",
        "instId": market_id(t),
        "uly": "",
        "instFamily": "",
        "baseCcy": t.base,
        "quoteCcy": t.quote,
        "settleCcy": "",
        "ctVal": "",
        "ctMult": "",
        "ctValCcy": "",
        "ctType": "",
        "optType": "",
        "stk": "",
        "alias": "",
        "listTime": "1606468572000",
        "expTime": "",
        "lever": "",
        "tickSz": f"%.{t.decimals}f" % t.tick,
        "lotSz": "0.00000001",
        "minSz": "0.00001",
        "maxLmtSz": "9999999999",
        "maxMktSz": "1000000",
        "state": "live",
    }


def okx_response(data: list[Any], code: str = "0", msg: str = "") -> web.Response:
    # OKX answers errors with HTTP 200 and a code; ccxt maps 51001 to BadSymbol
    return json_response({"code": code, "msg": msg, "data": data})


class OkxProtocol(ExchangeProtocol):
    name = "okx"
    ws_routes = ("/ws/v5/{kind}",)

    def __init__(self, market: Market) -> None:
        super().__init__(market)
        self.by_id = {market_id(t): t for t in market.tickers}
        self._renders: dict[str, Callable[[Ticker], str]] = {}

    def add_routes(self, app: web.Application) -> None:
        OkxHistory({i: t.symbol for i, t in self.by_id.items()}).add_routes(app)
        app.router.add_get("/api/v5/public/instruments", self.instruments)
        app.router.add_get("/api/v5/market/tickers", self.tickers)
        app.router.add_get("/api/v5/market/ticker", self.ticker)
        app.router.add_get("/api/v5/public/time", self.time)

    async def instruments(self, request: web.Request) -> web.Response:
        if request.query.get("instType") != "SPOT":
            return okx_response([])  # only spot markets are simulated
        return okx_response([instrument(t) for t in self.market.tickers])

    async def tickers(self, request: web.Request) -> web.Response:
        if request.query.get("instType") != "SPOT":
            return okx_response([])
        return okx_response([rest_ticker(t) for t in self.market.tickers])

    async def ticker(self, request: web.Request) -> web.Response:
        t = self.by_id.get(request.query.get("instId", ""))
        if t is None:
            return okx_response([], "51001", "Instrument ID does not exist")
        return okx_response([rest_ticker(t)])

    async def time(self, request: web.Request) -> web.Response:
        return okx_response([{"ts": str(now_ms())}])

    def cost(self, request: web.Request) -> Cost | None:
        # OKX limits requests, not weights: every request weighs 1
        if not request.path.startswith(API):
            return None
        endpoint = request.path[len(API) :]
        return Cost(endpoint, 1, endpoint in HISTORY_ENDPOINTS)

    def refusal(self, verdict: Verdict) -> web.Response:
        # OKX has no 418 ban: a banned client keeps getting 50011 with HTTP 429
        response = json_response({"code": "50011", "msg": "Too Many Requests", "data": []}, 429)
        response.headers["Retry-After"] = str(verdict.retry_after_s)
        return response

    def stamp(self, response: web.StreamResponse, verdict: Verdict) -> None:
        pass  # OKX sends no usage headers

    def failure(self, status: int) -> web.Response:
        msg = "Service temporarily unavailable. Please try again later."
        return json_response({"code": "50001", "msg": msg, "data": []}, status)

    def on_text(self, conn: Connection, text: str) -> list[str]:
        if text == "ping":
            return ["pong"]
        try:
            message = json.loads(text)
            op, args = message["op"], message["args"]
        except (ValueError, TypeError, KeyError):
            return [_error("60012", f"Illegal request: {text}")]
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return [_error("60012", f"Illegal request: {text}")]
        return [self._apply(conn, op, arg) for arg in args]

    def _apply(self, conn: Connection, op: str, arg: Any) -> str:
        channel = arg.get("channel") if isinstance(arg, dict) else None
        t = self.by_id.get(arg.get("instId", "")) if isinstance(arg, dict) else None
        if channel != CHANNEL or t is None:
            return _error("60018", f"Wrong URL or channel:{channel},instId:{arg} doesn't exist")
        name = f"{CHANNEL}:{market_id(t)}"
        if op == "subscribe":
            conn.subscribe([Stream(name, t, self._render(t))])
        else:
            conn.unsubscribe([name])
        return json.dumps({"event": op, "arg": arg, "connId": _connection_id(conn)})

    def _render(self, t: Ticker) -> Callable[[Ticker], str]:
        if t.symbol not in self._renders:
            self._renders[t.symbol] = ticker_render(t)
        return self._renders[t.symbol]


def _connection_id(conn: Connection) -> str:
    return f"{id(conn) & 0xFFFFFFFF:08x}"


def _error(code: str, msg: str) -> str:
    return json.dumps({"event": "error", "code": code, "msg": msg, "connId": "00000000"})
