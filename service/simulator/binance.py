"""Binance spot: REST ``/api/v3`` and the websocket market streams.

REST: ``GET /api/v3/exchangeInfo``, ``/api/v3/ticker/24hr`` (all, ``?symbol=``
or ``?symbols=["BTCUSDT",...]``), ``/api/v3/ping``, ``/api/v3/time``.
Websocket on ``/stream...`` (combined streams: ``{"stream":..,"data":..}``)
and ``/ws...`` (raw events). A replayed stream's frames are raw events, wrapped
on ``/stream`` connections. A client sends::

    {"method": "SUBSCRIBE", "params": ["btcusdt@ticker"], "id": 1}

and gets ``{"result": null, "id": 1}``, then events such as::

    {"stream": "btcusdt@ticker", "data": {"e": "24hrTicker", "E": 1786539510015,
     "s": "BTCUSDT", "c": "64117.99", "b": "64117.98", "a": "64118.00", ...}}

``E`` (event time) and ``C`` (close time, which ccxt takes as the ticker's
``timestamp``) are both the send time in epoch ms.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from service.simulator.binance_history import BinanceHistory
from service.simulator.feed import Connection, Stream, verbatim
from service.simulator.limits import Admission, Verdict
from service.simulator.market import DAY_MS, Ticker
from service.simulator.protocol import Cost, ExchangeProtocol, json_response, parse_json
from workers.clock import now_ms

CHANNELS = ("ticker", "miniTicker")
QTY = "%.8f"
API = "/api/v3/"
# Request weights of Binance spot today (ccxt's table says the same as cost = weight / 5)
WEIGHTS = {"exchangeInfo": 20, "klines": 2, "aggTrades": 2, "historicalTrades": 25}
HISTORY_ENDPOINTS = frozenset({"klines", "aggTrades", "historicalTrades"})
USED_WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"

_TICKER_FIELDS = (
    '{"e":"24hrTicker","E":%d,"s":"{id}","p":"{px}","P":"%.3f","w":"{px}","x":"{px}",'
    '"c":"{px}","Q":"{qty}","b":"{px}","B":"{qty}","a":"{px}","A":"{qty}","o":"{px}",'
    '"h":"{px}","l":"{px}","v":"{qty}","q":"{qty}","O":%d,"C":%d,"F":%d,"L":%d,"n":%d}'
)
_MINI_FIELDS = (
    '{"e":"24hrMiniTicker","E":%d,"s":"{id}","c":"{px}","o":"{px}","h":"{px}","l":"{px}",'
    '"v":"{qty}","q":"{qty}"}'
)


def market_id(t: Ticker) -> str:
    return f"{t.base}{t.quote}"


def _template(fields: str, t: Ticker, wrap: str | None) -> str:
    body = fields.replace("{id}", market_id(t)).replace("{px}", f"%.{t.decimals}f")
    body = body.replace("{qty}", QTY)
    return f'{{"stream":"{wrap}","data":{body}}}' if wrap else body


def ticker_render(t: Ticker, wrap: str | None) -> Callable[[Ticker], str]:
    """A renderer of ``t``'s full ``24hrTicker`` event (combined-wrapped as ``wrap``)."""
    template = _template(_TICKER_FIELDS, t, wrap)

    def render(t: Ticker) -> str:
        e = t.event_time
        return template % (
            e, t.change, t.percentage, t.vwap, t.open, t.last, t.last_qty, t.bid, t.bid_qty,
            t.ask, t.ask_qty, t.open, t.high, t.low, t.base_volume, t.quote_volume,
            e - DAY_MS, e, t.first_id, t.first_id + t.count, t.count + 1,
        )  # fmt: skip

    return render


def mini_render(t: Ticker, wrap: str | None) -> Callable[[Ticker], str]:
    """A renderer of ``t``'s ``24hrMiniTicker`` event (no bid/ask)."""
    template = _template(_MINI_FIELDS, t, wrap)

    def render(t: Ticker) -> str:
        return template % (
            t.event_time, t.last, t.open, t.high, t.low, t.base_volume, t.quote_volume,
        )  # fmt: skip

    return render


def rest_ticker(t: Ticker) -> dict[str, Any]:
    """``t`` as one entry of ``GET /api/v3/ticker/24hr``."""
    px, e = f"%.{t.decimals}f", t.event_time
    return {
        "symbol": market_id(t),
        "priceChange": px % t.change,
        "priceChangePercent": f"{t.percentage:.3f}",
        "weightedAvgPrice": px % t.vwap,
        "prevClosePrice": px % t.open,
        "lastPrice": px % t.last,
        "lastQty": QTY % t.last_qty,
        "bidPrice": px % t.bid,
        "bidQty": QTY % t.bid_qty,
        "askPrice": px % t.ask,
        "askQty": QTY % t.ask_qty,
        "openPrice": px % t.open,
        "highPrice": px % t.high,
        "lowPrice": px % t.low,
        "volume": QTY % t.base_volume,
        "quoteVolume": QTY % t.quote_volume,
        "openTime": e - DAY_MS,
        "closeTime": e,
        "firstId": t.first_id,
        "lastId": t.first_id + t.count,
        "count": t.count + 1,
    }


def symbol_info(t: Ticker) -> dict[str, Any]:
    """``t`` as one entry of ``exchangeInfo.symbols``: a TRADING spot market."""
    tick = f"%.{t.decimals}f" % t.tick
    return {
        "symbol": market_id(t),
        "status": "TRADING",
        "baseAsset": t.base,
        "baseAssetPrecision": 8,
        "quoteAsset": t.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": _filters(tick),
        "permissions": [],
        "permissionSets": [["SPOT"]],
    }


def _filters(tick: str) -> list[dict[str, Any]]:
    price = {
        "filterType": "PRICE_FILTER",
        "minPrice": tick,
        "maxPrice": "1000000",
        "tickSize": tick,
    }
    lot = {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"}
    notional = {"filterType": "NOTIONAL", "minNotional": "5", "maxNotional": "9000000"}
    return [price, lot, notional]


def _wrapper(name: str) -> Callable[[str], str]:
    """Wraps a raw event (as ``/ws`` sends it) the way ``/stream`` connections carry it."""
    head = json.dumps({"stream": name}, separators=(",", ":"))[:-1] + ',"data":'
    return lambda raw: head + raw + "}"


def _ticker_weight(request: web.Request) -> int:
    # Binance: 2 for one symbol, 2/40/80 by how many are listed, 80 for all
    if "symbol" in request.query:
        return 2
    listed = parse_json(request.query.get("symbols", "null"))
    count = len(listed) if isinstance(listed, list) else 101
    return 2 if count <= 20 else 40 if count <= 100 else 80


def error_response(code: int, msg: str, status: int = 400) -> web.Response:
    # ccxt maps Binance's numeric codes to its own exceptions (-1121 -> BadSymbol)
    return json_response({"code": code, "msg": msg}, status=status)


class BinanceProtocol(ExchangeProtocol):
    name = "binance"
    ws_routes = ("/stream{tail:.*}", "/ws{tail:.*}")
    listed_decimals = {"BTC/USDT": 2}  # exchangeInfo BTCUSDT PRICE_FILTER tickSize 0.01

    def __init__(self, market: Any) -> None:
        super().__init__(market)
        self.by_id = {market_id(t): t for t in market.tickers}
        self.by_stream_id = {market_id(t).lower(): t for t in market.tickers}
        self._renders: dict[tuple[str, bool], Callable[[Ticker], str]] = {}

    def add_routes(self, app: web.Application) -> None:
        BinanceHistory({i: t.symbol for i, t in self.by_id.items()}).add_routes(app)
        app.router.add_get("/api/v3/exchangeInfo", self.exchange_info)
        app.router.add_get("/api/v3/ticker/24hr", self.ticker_24hr)
        app.router.add_get("/api/v3/ping", self.ping)
        app.router.add_get("/api/v3/time", self.time)

    async def exchange_info(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": [symbol_info(t) for t in self.market.tickers],
            }
        )

    async def ticker_24hr(self, request: web.Request) -> web.Response:
        one = request.query.get("symbol")
        if one is not None:
            if one not in self.by_id:
                return error_response(-1121, "Invalid symbol.")
            return json_response(rest_ticker(self.by_id[one]))
        many = request.query.get("symbols")
        if many is None:
            return json_response([rest_ticker(t) for t in self.market.tickers])
        ids = parse_json(many)
        if not isinstance(ids, list) or any(i not in self.by_id for i in ids):
            return error_response(-1121, "Invalid symbol.")
        return json_response([rest_ticker(self.by_id[i]) for i in ids])

    async def ping(self, request: web.Request) -> web.Response:
        return json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return json_response({"serverTime": now_ms()})

    def cost(self, request: web.Request) -> Cost | None:
        if not request.path.startswith(API):
            return None
        endpoint = request.path[len(API) :]
        if endpoint == "ticker/24hr":
            return Cost(endpoint, _ticker_weight(request))
        return Cost(endpoint, WEIGHTS.get(endpoint, 1), endpoint in HISTORY_ENDPOINTS)

    def refusal(self, verdict: Verdict) -> web.Response:
        if verdict.admission == Admission.BANNED:
            status, msg = (
                418,
                (
                    f"Way too much request weight used; IP banned until {verdict.banned_until_ms}. "
                    "Please use WebSocket Streams for live updates to avoid bans."
                ),
            )
        else:
            status, msg = (
                429,
                (
                    "Too many requests; current limit of IP is exceeded. Please use WebSocket "
                    "Streams for live updates to avoid polling the API."
                ),
            )
        response = error_response(-1003, msg, status)
        response.headers["Retry-After"] = str(verdict.retry_after_s)
        self.stamp(response, verdict)
        return response

    def failure(self, status: int) -> web.Response:
        msg = "An unknown error occurred while processing the request."
        return error_response(-1000 if status == 500 else -1008, msg, status)

    def stamp(self, response: web.StreamResponse, verdict: Verdict) -> None:
        response.headers[USED_WEIGHT_HEADER] = str(verdict.used)

    def on_text(self, conn: Connection, text: str) -> list[str]:
        message = parse_json(text)
        if not isinstance(message, dict):
            return []
        method, params, request_id = message.get("method"), message.get("params"), message.get("id")
        if method == "SUBSCRIBE" and isinstance(params, list):
            conn.subscribe(self._streams(conn, params))
        elif method == "UNSUBSCRIBE" and isinstance(params, list):
            conn.unsubscribe([str(p) for p in params])
        elif method == "LIST_SUBSCRIPTIONS":
            return [json.dumps({"result": list(conn.streams), "id": request_id})]
        else:
            return [json.dumps({"error": {"code": 2, "msg": "Invalid request"}, "id": request_id})]
        return [json.dumps({"result": None, "id": request_id})]

    def _streams(self, conn: Connection, names: list[Any]) -> list[Stream]:
        # unknown names are accepted and never send anything, as Binance does
        combined = conn.path.startswith("/stream")
        streams = []
        for name in map(str, names):
            symbol_id, _, channel = name.partition("@")
            t = self.by_stream_id.get(symbol_id)
            if t is not None and channel in CHANNELS:
                render = self._render(t, channel, name, combined)
                streams.append(Stream(name, t, render, _wrapper(name) if combined else verbatim))
        return streams

    def _render(
        self, t: Ticker, channel: str, name: str, combined: bool
    ) -> Callable[[Ticker], str]:
        key = (name, combined)
        if key not in self._renders:
            build = ticker_render if channel == "ticker" else mini_render
            self._renders[key] = build(t, name if combined else None)
        return self._renders[key]
