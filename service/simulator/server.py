"""``Simulator``: one exchange protocol, its websockets, faults and control API on one port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from service.logs import get_logger
from service.simulator import control
from service.simulator.binance import BinanceProtocol
from service.simulator.faults import FaultPlan, FaultSwitch
from service.simulator.feed import Connection, Feed
from service.simulator.limits import Admission, BudgetLimits, RequestBudget
from service.simulator.market import build_market
from service.simulator.okx import OkxProtocol
from service.simulator.protocol import ExchangeProtocol, json_response
from service.simulator.replay import encode_frames, encode_replay
from workers.clock import now_ms

PROTOCOLS: dict[str, type[ExchangeProtocol]] = {"binance": BinanceProtocol, "okx": OkxProtocol}
CLOSE_TIMEOUT_S = 2.0
log = get_logger(__name__)


async def _close(conn: Connection) -> None:
    # a client that stopped reading would hold the close handshake: cut it off then
    try:
        await asyncio.wait_for(conn.ws.close(code=WSCloseCode.GOING_AWAY), CLOSE_TIMEOUT_S)
    except (TimeoutError, OSError):
        if conn.transport is not None:
            conn.transport.abort()


class Simulator:
    """A local exchange speaking ``protocol`` (binance or okx) on ``host:port``.

    ``port=0`` picks a free port (read ``.port`` after ``start()``). ``symbols`` is
    a count (``BTC/USDT``, ``ETH/USDT``, ... ``C0001/USDT``) or the unified spot
    symbols to list. ``rate`` is events per second per subscribed symbol, 0 for as
    fast as possible. ``drop_every_s`` closes every websocket periodically;
    ``stall_after_s`` stalls the feed that long after start. ``replay`` maps stream
    names to recorded frames sent instead of generated ones (see ``replay.py``).
    ``weight_budget`` is the REST request weight allowed per ``budget_window_s``
    (None: unlimited; see ``limits.py``), ``fail_every`` fails every N-th history
    page with 5xx (see ``faults.py``). The history itself is ``history.py``.
    Raises ValueError on bad arguments.
    """

    def __init__(
        self,
        protocol: str = "binance",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        symbols: int | Sequence[str] = 10,
        rate: float = 1.0,
        seed: int | None = None,
        drop_every_s: float | None = None,
        stall_after_s: float | None = None,
        replay: Mapping[str, Any] | None = None,
        weight_budget: int | None = None,
        budget_window_s: float = 60.0,
        fail_every: int | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol={protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        if rate < 0:
            raise ValueError(f"rate={rate}: expected 0 (full rate) or more")
        self.protocol_name = protocol
        self.host, self.port = host, port
        protocol_class = PROTOCOLS[protocol]
        self.market = build_market(symbols, seed, protocol_class.listed_decimals)
        self.protocol = protocol_class(self.market)
        self.drop_every_s = drop_every_s
        self.stall_after_s = stall_after_s
        self.drops = 0
        self.connections_total = 0
        self._rate = rate
        self.replays = encode_replay(replay or {})
        self.budget = RequestBudget(BudgetLimits(weight_budget, budget_window_s))
        self.faults = FaultSwitch(FaultPlan(every=fail_every))
        self._feed: Feed | None = None
        self._connections: set[Connection] = set()
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on ``host:port`` (sets ``.port``); raises OSError if it cannot bind."""
        self._feed = Feed(self.market, self._rate, self.replays)
        app = web.Application(middlewares=[self._gate])
        control.add_routes(app, self)
        self.protocol.add_routes(app)
        for route in self.protocol.ws_routes:
            app.router.add_get(route, self._websocket)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [asyncio.create_task(self._fault_schedule())]
        log.info("simulator listening", protocol=self.protocol_name, url=self.url)

    async def stop(self) -> None:
        """Close every connection and the listening socket. Safe to call twice."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.drop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def feed(self) -> Feed:
        if self._feed is None:
            raise RuntimeError("the simulator is not started")
        return self._feed

    # -- market view -----------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        """Unified symbols served, e.g. ``['BTC/USDT', 'ETH/USDT', ..., 'C0001/USDT']``."""
        return self.market.symbols

    @property
    def last_sent(self) -> dict[str, dict[str, Any]]:
        """Per unified symbol, the ticker fields last sent (or served, if none sent yet)."""
        return {t.symbol: t.as_dict() for t in self.market.tickers}

    def state(self) -> dict[str, Any]:
        """Counters and switches, as served by ``GET /_sim/state``."""
        feed = self.feed
        return {
            "protocol": self.protocol_name,
            "symbols": len(self.market.tickers),
            "connections": len(self._connections),
            "connections_total": self.connections_total,
            "subscriptions": sum(len(c.streams) for c in self._connections),
            "events_sent": feed.events_sent,
            "events_sent_by_symbol": dict(feed.events_sent_by_symbol),
            "rate": feed.rate,
            "paused": feed.paused,
            "stalled": feed.stalled,
            "drops": self.drops,
            "drop_every_s": self.drop_every_s,
            "replayed_streams": sorted(feed.replays),
            "budget": self.budget.state(),
            "faults": self.faults.state(),
        }

    # -- faults and switches ---------------------------------------------------------------

    def set_rate(self, rate: float) -> None:
        """Events/s per subscribed symbol from now on (0 = full rate); ValueError if < 0."""
        if rate < 0:
            raise ValueError(f"rate={rate}: expected 0 (full rate) or more")
        self._rate = rate
        self.feed.rate = rate

    def stall(self) -> None:
        """Stop sending events; sockets stay open and still answer pings and subscriptions."""
        self.feed.stalled = True
        self.feed.update_gate()

    def pause(self) -> None:
        """Stop sending events so the last values sent stay final (undo with ``resume``)."""
        self.feed.paused = True
        self.feed.update_gate()

    def resume(self) -> None:
        """Undo ``stall`` and ``pause``: events flow again at the current rate."""
        self.feed.stalled = self.feed.paused = False
        self.feed.update_gate()

    def replay(self, stream: str, frames: Sequence[Any]) -> int:
        """Send ``frames`` on ``stream`` to its subscribers now and to each new one.

        The stream then sends no generated frames. Returns how many connections
        are subscribed now; ValueError names a bad stream or frame.
        """
        encoded = encode_frames(stream, frames)
        self.replays[stream] = self.feed.replays[stream] = encoded
        return sum(conn.play(stream, encoded) for conn in list(self._connections))

    def set_drop_every(self, seconds: float | None) -> None:
        """Close every websocket every ``seconds`` (None or 0 switches it off)."""
        self.drop_every_s = seconds or None

    async def drop(self) -> int:
        """Close every websocket connection now (close frame 1001); returns how many."""
        connections = list(self._connections)
        await asyncio.gather(*(_close(c) for c in connections), return_exceptions=True)
        if connections:
            self.drops += 1
            log.info("simulator dropped connections", count=len(connections))
        return len(connections)

    async def _fault_schedule(self) -> None:
        started = asyncio.get_running_loop().time()
        last_drop = started
        while True:
            await asyncio.sleep(0.1)
            now = asyncio.get_running_loop().time()
            if self.stall_after_s is not None and now - started >= self.stall_after_s:
                self.stall_after_s = None
                self.stall()
                log.info("simulator stalled", after_s=round(now - started, 1))
            if self.drop_every_s and now - last_drop >= self.drop_every_s:
                last_drop = now
                await self.drop()
            elif not self.drop_every_s:
                last_drop = now

    def set_budget(self, limits: BudgetLimits) -> None:
        """The REST weight budget from now on (``BudgetLimits()``: unlimited); clears a ban."""
        self.budget.configure(limits)

    def set_faults(self, faults: FaultPlan) -> None:
        """Which history pages fail with 5xx from now on (``FaultPlan()``: none)."""
        self.faults.set(faults)

    # -- handlers --------------------------------------------------------------------------

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # every REST request of the protocol passes the budget, then the fault switch
        cost = self.protocol.cost(request)
        if cost is None:
            return await handler(request)  # type: ignore[no-any-return]
        now = now_ms()
        verdict = self.budget.admit(cost.endpoint, cost.weight, now)
        if verdict.admission != Admission.ALLOWED:
            return self.protocol.refusal(verdict)
        status = self.faults.failure() if cost.history else None
        if status is not None:
            self.budget.failed(cost.endpoint, now)
            response: web.StreamResponse = self.protocol.failure(status)
        else:
            response = await handler(request)
        self.protocol.stamp(response, verdict)
        return response

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        # no compression: real exchanges send plain frames, and deflate costs CPU per frame
        ws = web.WebSocketResponse(
            compress=False, autoping=True, max_msg_size=1 << 20, timeout=CLOSE_TIMEOUT_S
        )
        if not ws.can_prepare(request).ok:
            return await self._not_found(request)
        await ws.prepare(request)
        conn = Connection(ws, request.path, self.feed, transport=request.transport)
        self._connections.add(conn)
        self.connections_total += 1
        sender = asyncio.create_task(conn.send_loop())
        try:
            await self._read(conn)
        finally:
            self._connections.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    async def _read(self, conn: Connection) -> None:
        with contextlib.suppress(ConnectionError):
            async for message in conn.ws:
                if message.type != WSMsgType.TEXT:
                    continue
                for reply in self.protocol.on_text(conn, message.data):
                    await conn.ws.send_str(reply)

    async def _not_found(self, request: web.Request) -> web.Response:
        log.warning("simulator: unknown request", method=request.method, path=request.path_qs)
        return json_response({"code": -1, "msg": f"no such endpoint {request.path}"}, status=404)
