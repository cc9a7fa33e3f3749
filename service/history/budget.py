"""One REST request budget per exchange, shared by every worker process through Redis.

ccxt's own rate limiter counts per process, so N workers would spend N times
the budget. Here every history REST call of every worker first takes a token
from one bucket per exchange (``workers/scripts/take_token.lua``, Redis's
clock). The bucket holds ``burst`` tokens and refills at
``requests_per_minute - burst`` a minute, so no 60-second window, sliding or
calendar, ever sees more than ``requests_per_minute`` grants, while a steady
backfill uses ``1 - burst / N`` of it (98% with a one-second burst).

A 429 or 418 answer backs the whole exchange off: a key whose expiry is the
deadline (``Retry-After`` when the exchange sent one, else capped exponential
in the answers received in a row), which the same script honours for every
worker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from service.errors import StoreError, TickerServiceError
from service.history.scan import scan_json
from service.keys import Keys
from workers.clock import now_ms
from workers.scripts import TAKE_TOKEN

# Without an answer's Retry-After: 5 s, 10 s, 20 s ... capped at 5 minutes.
BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 300.0
# Consecutive 429/418 answers are forgotten after this long without one.
STRIKES_TTL_S = 900
# The longest one wait for a token sleeps before asking again (a backoff may be shortened).
MAX_SLEEP_S = 1.0


class BudgetWaitTooLong(TickerServiceError):
    """No token within the caller's patience (the exchange is backed off for long)."""


@dataclass(frozen=True)
class BudgetSpec:
    """A bucket for ``requests_per_minute``: ``burst`` tokens, refilled at ``rate_per_s``."""

    requests_per_minute: int
    burst: int
    rate_per_s: float


def budget_spec(requests_per_minute: int) -> BudgetSpec:
    """The bucket that never grants more than ``requests_per_minute`` in any minute.

    The burst is one second's worth (at least 1); the refill is the rest of the
    minute's allowance. Raises ValueError below 2 a minute (no room for a refill).
    """
    if requests_per_minute < 2:
        raise ValueError(f"requests per minute must be at least 2, got {requests_per_minute}")
    burst = max(1, requests_per_minute // 60)
    return BudgetSpec(requests_per_minute, burst, (requests_per_minute - burst) / 60)


def requests_per_minute_from_ccxt(rate_limit_ms: float) -> int:
    """ccxt's ``rateLimit`` (ms between requests) as requests a minute (binance 50 ms -> 1200)."""
    return max(2, int(60_000 // max(rate_limit_ms, 1)))


@dataclass(frozen=True)
class Backoff:
    """An exchange's current backoff after a 429/418: until when, and why."""

    exchange: str
    until_ms: int
    status: int
    reason: str


class RequestBudget:
    """The shared bucket of one exchange. ``take()`` before every REST call."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        exchange: str,
        spec: BudgetSpec,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.keys = keys
        self.exchange = exchange
        self.spec = spec
        self.sleep = sleep

    def try_take(self) -> tuple[bool, int, int]:
        """One attempt: (granted, ms to wait before the next, Redis time ms). Raises StoreError."""
        keys = [self.keys.request_budget(self.exchange), self.keys.request_backoff(self.exchange)]
        try:
            granted, wait_ms, at_ms = TAKE_TOKEN.run(
                self.client, keys, [self.spec.rate_per_s, self.spec.burst]
            )
        except redis.RedisError as exc:
            raise StoreError(f"request budget of {self.exchange}: {exc}") from exc
        return bool(granted), int(wait_ms), int(at_ms)

    def take(self, max_wait_s: float) -> int:
        """Wait for a token; returns the grant's Redis time in ms.

        Raises BudgetWaitTooLong after ``max_wait_s`` without one, StoreError when Redis fails.
        """
        deadline = time.monotonic() + max_wait_s
        while True:
            granted, wait_ms, at_ms = self.try_take()
            if granted:
                return at_ms
            left = deadline - time.monotonic()
            if left <= 0:
                raise BudgetWaitTooLong(
                    f"no request budget for {self.exchange} within {max_wait_s:g} s"
                )
            self.sleep(min(wait_ms / 1000, MAX_SLEEP_S, left))

    def back_off(self, status: int, retry_after_s: float | None, reason: str) -> float:
        """Back the whole exchange off after a 429/418; returns the delay in seconds.

        Never shortens a longer backoff already set. Raises StoreError.
        """
        try:
            strikes = int(self.client.incr(self.keys.backoff_strikes(self.exchange)))
            self.client.expire(self.keys.backoff_strikes(self.exchange), STRIKES_TTL_S)
            delay_s = backoff_delay_s(strikes, retry_after_s)
            key = self.keys.request_backoff(self.exchange)
            if int(self.client.pttl(key)) < delay_s * 1000:
                until = now_ms() + int(delay_s * 1000)
                payload = json.dumps({"until_ms": until, "status": status, "reason": reason})
                self.client.set(key, payload, px=max(1, int(delay_s * 1000)))
        except redis.RedisError as exc:
            raise StoreError(f"backing off {self.exchange}: {exc}") from exc
        return delay_s


def backoff_delay_s(strikes: int, retry_after_s: float | None) -> float:
    """The exchange's word when it gave one (a ban may last days), else capped exponential."""
    if retry_after_s is not None and retry_after_s > 0:
        return retry_after_s
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(max(strikes - 1, 0), 16))


def read_backoffs(client: redis.Redis, keys: Keys) -> list[Backoff]:
    """Every exchange backed off right now (for ``status`` and ``/metrics``). Raises StoreError."""
    head, tail = keys.request_backoff("\0").split("\0")
    found = scan_json(client, keys.request_backoff_pattern(), head, tail, "request backoffs")
    return [
        Backoff(exchange, int(data["until_ms"]), int(data["status"]), data["reason"])
        for exchange, data in found
    ]
