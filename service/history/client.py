"""The ccxt client of history tasks: REST, and every request inside the exchange's budget.

Built once per worker thread (ccxt's sync clients are not shared across
threads) from the exchange row. ccxt's own rate limiter is turned off: it
counts per process, so it neither protects the exchange from N workers nor
adds anything the shared budget does not do; kept on it would only add its
per-process waits on top. Instead every HTTP request ccxt makes (markets
included) first takes a token from the shared budget (``RequestBudget.take``),
and a 429 or 418 answer backs the whole exchange off before ccxt raises.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import ccxt

from service.errors import ConfigError
from service.history.budget import RequestBudget, budget_spec, requests_per_minute_from_ccxt
from service.logs import get_logger
from workers.clock import now_ms

log = get_logger(__name__)

RATE_LIMITED = (418, 429)
# How long one request waits for a token (a backoff longer than this fails the page).
TOKEN_WAIT_S = 60.0


@dataclass(frozen=True)
class ExchangeConfig:
    """What a history task needs of an exchange row."""

    name: str
    ccxt_id: str
    ccxt_params: dict[str, Any] = field(default_factory=dict)
    requests_per_minute: int | None = None  # None: from ccxt's rateLimit


def rest_client(config: ExchangeConfig) -> Any:
    """A sync ccxt client for ``config`` with ccxt's own limiter off. Raises ConfigError."""
    exchange_class = getattr(ccxt, config.ccxt_id, None)
    if config.ccxt_id not in ccxt.exchanges or exchange_class is None:
        raise ConfigError(f"exchange {config.name}: unknown ccxt id {config.ccxt_id!r}")
    params = {**copy.deepcopy(config.ccxt_params), "enableRateLimit": False}
    try:
        return exchange_class(params)
    except Exception as exc:
        raise ConfigError(f"exchange {config.name}: ccxt rejected its parameters: {exc}") from exc


def requests_per_minute(config: ExchangeConfig, client: Any) -> int:
    """The row's budget, else ccxt's ``rateLimit`` (ms per request) as requests a minute."""
    return config.requests_per_minute or requests_per_minute_from_ccxt(float(client.rateLimit))


def gate(client: Any, budget: RequestBudget, *, token_wait_s: float = TOKEN_WAIT_S) -> Any:
    """Make every HTTP request of ``client`` take a token first and honour 429/418; returns it."""
    fetch = client.fetch
    on_rest_response = client.on_rest_response

    def gated_fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        budget.take(token_wait_s)
        return fetch(url, method, headers, body)

    def watch_status(code: int, reason: str, url: str, *rest: Any) -> Any:
        if code in RATE_LIMITED:
            headers = rest[1] if len(rest) > 1 else None
            why = f"{code} {reason} {urlsplit(url).path}"
            delay_s = budget.back_off(code, retry_after_s(headers), why)
            log.warning("exchange backed off", exchange=budget.exchange, why=why, delay_s=delay_s)
        return on_rest_response(code, reason, url, *rest)

    client.fetch = gated_fetch
    client.on_rest_response = watch_status
    return client


def gated_client(config: ExchangeConfig, budget_for: Any, *, token_wait_s: float) -> Any:
    """``rest_client`` gated by the budget ``budget_for(exchange, spec)`` returns."""
    client = rest_client(config)
    spec = budget_spec(requests_per_minute(config, client))
    return gate(client, budget_for(config.name, spec), token_wait_s=token_wait_s)


def retry_after_s(headers: Any) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), None when absent or bad."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_ms() / 1000)
    except (TypeError, ValueError):
        return None
