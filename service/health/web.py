"""The web process: ``/healthz``, ``/metrics`` and ``/tickers`` over aiohttp.

Routes:
  GET /healthz                      200 or 503 with the status JSON
  GET /metrics                      Prometheus text, built from the registry per scrape
  GET /tickers                      {"exchanges": [...]}
  GET /tickers/{exchange}           {"exchange": ..., "ticks": {symbol: tick}} or 404
  GET /tickers/{exchange}/{symbol}  one tick; BTC%2FUSDT, BTC/USDT and BTC-USDT all work

Every error is JSON (``{"error": ..., "status": ...}``), never a traceback.
With ``WEB_TOKEN`` set, every route but ``/healthz`` (the platform's probe)
wants ``Authorization: Bearer <token>`` and answers 401 without it; Prometheus
scrape configs send one with ``authorization: {credentials: ...}``.
Redis calls are blocking (redis-py's sync client, thread-safe) and run in
threads so one slow answer never stalls the event loop. The process also runs
``check_transitions`` every SUPERVISE_INTERVAL_S, so a job that goes silent
is alerted on even when no beat runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from service.errors import StoreError
from service.health.metrics import metrics_registry, render_metrics
from service.health.snapshot import load_status
from service.health.transitions import check_transitions
from service.history.health import load_history_health
from service.keys import Keys
from service.logs import get_logger
from service.redis_client import sync_client
from service.settings import Settings
from service.store import TickReader

SETTINGS = web.AppKey("settings", Settings)
CLIENT = web.AppKey("client", redis.Redis)
READER = web.AppKey("reader", TickReader)
METRICS = web.AppKey("metrics", CollectorRegistry)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Headers of an HTTP error that its JSON answer keeps.
KEPT_HEADERS = ("Allow", "WWW-Authenticate")
OPEN_PATHS = frozenset({"/healthz"})

log = get_logger(__name__)


def create_app(
    settings: Settings, *, client: redis.Redis | None = None, check_transitions_every: bool = True
) -> web.Application:
    """The aiohttp application; it closes ``client`` (default: one from the settings) on cleanup."""
    app = web.Application(middlewares=[json_errors, bearer_token(settings.web_token)])
    keys = Keys(settings.key_prefix)
    redis_client = client if client is not None else sync_client(settings.redis_url)
    app[SETTINGS] = settings
    app[CLIENT] = redis_client
    app[READER] = TickReader(redis_client, keys, stale_after_s=settings.stale_after_s)
    app[METRICS] = metrics_registry(
        lambda: load_status(redis_client, keys, settings),
        lambda: load_history_health(redis_client, keys),
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/tickers", tickers_index)
    app.router.add_get("/tickers/{exchange}", tickers_of_exchange)
    app.router.add_get("/tickers/{exchange}/{symbol:.+}", ticker_of_symbol)
    if check_transitions_every:
        app.cleanup_ctx.append(_transition_checks)
    app.on_cleanup.append(_close_client)
    return app


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into a JSON body: HTTP errors keep their status, Redis gives 503."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        kept = {name: exc.headers[name] for name in KEPT_HEADERS if name in exc.headers}
        return error_response(exc.status, exc.reason, headers=kept or None)
    except StoreError as exc:
        log.warning("redis unavailable", path=request.path, error=str(exc))
        return error_response(503, "the Redis store does not answer")
    except Exception:
        log.exception("request failed", path=request.path)
        return error_response(500, "internal error")


def bearer_token(token: str | None) -> Any:
    """Require ``Authorization: Bearer <token>`` on every path but ``OPEN_PATHS``."""
    expected = f"Bearer {token}".encode() if token else None

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None or request.path in OPEN_PATHS:
            return await handler(request)
        given = request.headers.get("Authorization", "").encode()
        # Constant time, so response timing does not reveal how much of a guess matched.
        if not hmac.compare_digest(given, expected):
            raise web.HTTPUnauthorized(
                reason="a bearer token is required (WEB_TOKEN)",
                headers={"WWW-Authenticate": 'Bearer realm="ticker-service"'},
            )
        return await handler(request)

    return check


def error_response(
    status: int, message: str, *, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


async def healthz(request: web.Request) -> web.Response:
    """200 when every desired job is up, else 503; the body is the full status."""
    app = request.app
    keys = Keys(app[SETTINGS].key_prefix)
    status = await asyncio.to_thread(load_status, app[CLIENT], keys, app[SETTINGS])
    return web.json_response(status.to_dict(), status=200 if status.healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    body = await asyncio.to_thread(render_metrics, request.app[METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def tickers_index(request: web.Request) -> web.Response:
    exchanges = await asyncio.to_thread(request.app[READER].exchanges)
    return web.json_response({"exchanges": exchanges})


async def tickers_of_exchange(request: web.Request) -> web.Response:
    exchange = request.match_info["exchange"]
    ticks = await asyncio.to_thread(request.app[READER].get_exchange, exchange)
    if not ticks:
        return error_response(404, f"no ticks stored for exchange {exchange}")
    return web.json_response({"exchange": exchange, "ticks": ticks})


async def ticker_of_symbol(request: web.Request) -> web.Response:
    exchange, symbol = request.match_info["exchange"], request.match_info["symbol"]
    for candidate in symbol_candidates(symbol):
        tick = await asyncio.to_thread(request.app[READER].get, exchange, candidate)
        if tick is not None:
            return web.json_response(tick)
    return error_response(404, f"no tick stored for {symbol} on {exchange}")


def symbol_candidates(symbol: str) -> list[str]:
    """The symbol as given, then ``BTC-USDT`` read as ``BTC/USDT`` (a slash is awkward in URLs)."""
    if "/" in symbol or "-" not in symbol:
        return [symbol]
    return [symbol, symbol.replace("-", "/", 1)]


async def _transition_checks(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(_check_forever(app))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _check_forever(app: web.Application) -> None:
    settings, keys = app[SETTINGS], Keys(app[SETTINGS].key_prefix)
    failing = False
    while True:
        await asyncio.sleep(settings.supervise_interval_s)
        try:
            await asyncio.to_thread(check_transitions, app[CLIENT], keys, settings)
        except StoreError as exc:
            # Once per outage, not every few seconds while Redis is away.
            if not failing:
                log.warning("health check cannot read redis", error=str(exc))
            failing = True
            continue
        failing = False


async def _close_client(app: web.Application) -> None:
    app[CLIENT].close()


def serve(settings: Settings, *, host: str, port: int) -> None:
    """Run the web process until SIGTERM or SIGINT, then shut down cleanly."""

    async def announce(_app: web.Application) -> None:
        log.info("web listening", host=host, port=port)

    app = create_app(settings)
    app.on_startup.append(announce)
    # Health probes and scrapes every few seconds would drown the log: no access log.
    web.run_app(app, host=host, port=port, print=None, access_log=None, handle_signals=True)
    log.info("web stopped")
