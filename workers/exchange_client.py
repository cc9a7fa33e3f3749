"""Building a ccxt client for a job, and choosing how it reads tickers."""

from __future__ import annotations

import copy
from typing import Any

import ccxt
import ccxt.async_support as ccxt_async
import ccxt.pro as ccxt_pro

from workers.spec import JobSpec

# Where an exchange's default ticker channel lacks fields we store, pick the full one
# (binance's default miniTicker has no bid/ask).
DEFAULT_WATCH_PARAMS: dict[str, dict[str, Any]] = {"binance": {"name": "ticker"}}

# Read method -> the ccxt capability it needs, best first.
WATCH_METHODS = (("watch_tickers", "watchTickers"), ("watch_ticker", "watchTicker"))


class ClientConfigError(Exception):
    """The job's ccxt id or parameters cannot build a client: retrying will not help."""


def make_exchange(spec: JobSpec, credentials: dict[str, str]) -> Any:
    """A ccxt client for ``spec`` (ccxt.pro where it exists, else async REST).

    Raises ClientConfigError for an unknown ccxt id or parameters ccxt rejects.
    """
    exchange_class = getattr(ccxt_pro, spec.ccxt_id, None) or getattr(
        ccxt_async, spec.ccxt_id, None
    )
    if spec.ccxt_id not in ccxt.exchanges or exchange_class is None:
        raise ClientConfigError(f"unknown ccxt exchange id {spec.ccxt_id!r}")
    config: dict[str, Any] = {"enableRateLimit": True, **copy.deepcopy(spec.ccxt_params)}
    config.update(credentials)
    try:
        return exchange_class(config)
    except Exception as exc:
        raise ClientConfigError(f"ccxt rejected the parameters of {spec.ccxt_id}: {exc}") from exc


def read_method(exchange: Any, mode: str) -> str:
    """``watch_tickers``, ``watch_ticker``, ``fetch_tickers`` or ``fetch_ticker``.

    ``auto`` takes websockets where this ccxt class has them, else REST polling.
    Raises ClientConfigError when the mode asks for what the class lacks.
    """
    has = exchange.has
    if mode in ("auto", "ws"):
        for method, capability in WATCH_METHODS:
            if has.get(capability):
                return method
        if mode == "ws":
            raise ClientConfigError(
                f"{exchange.id} has no websocket tickers in ccxt; use mode poll"
            )
    if has.get("fetchTickers"):
        return "fetch_tickers"
    if has.get("fetchTicker"):
        return "fetch_ticker"
    raise ClientConfigError(f"{exchange.id} can neither watch nor fetch tickers in ccxt")


def watch_params(spec: JobSpec) -> dict[str, Any]:
    return {**DEFAULT_WATCH_PARAMS.get(spec.ccxt_id, {}), **spec.watch_params}
