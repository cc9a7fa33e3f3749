"""Tells the developer when every demo symbol has a tick in Redis (or that some do not yet)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis

from service.devrun.seed import SimulatedExchange
from service.keys import Keys
from service.redis_client import sync_client
from workers.redis_text import text

CHECK_EVERY_S = 0.5
SLOW_AFTER_S = 20.0  # then say once how many are still missing


class TickWatch:
    """``check`` returns a line to print, at most one per event worth telling."""

    def __init__(self, redis_url: str, keys: Keys, simulated: Sequence[SimulatedExchange]) -> None:
        self._keys = keys
        self._wanted = {sim.demo.name: set(sim.symbols) for sim in simulated}
        self._total = sum(len(symbols) for symbols in self._wanted.values())
        self._client = sync_client(redis_url, socket_timeout=1, socket_connect_timeout=1)
        self._done = not self._wanted
        self._warned = False
        self._next_at = 0.0

    def check(self, elapsed_s: float) -> str | None:
        if self._done or time.monotonic() < self._next_at:
            return None
        self._next_at = time.monotonic() + CHECK_EVERY_S
        missing = self._missing()
        if missing == 0:
            self._done = True
            return (
                f"every demo symbol is ticking ({self._total} symbols on "
                f"{len(self._wanted)} exchanges), {elapsed_s:.1f} s after start"
            )
        if elapsed_s > SLOW_AFTER_S and not self._warned:
            self._warned = True
            return f"{missing} of {self._total} demo symbols have no tick yet; see the log above"
        return None

    def _missing(self) -> int:
        try:
            return sum(len(symbols - self._have(name)) for name, symbols in self._wanted.items())
        except redis.RedisError:
            return self._total  # a Redis hiccup: the worker's log says more

    def _have(self, exchange: str) -> set[str]:
        fields: list[bytes] = self._client.hkeys(self._keys.board(exchange))  # type: ignore[assignment]
        return {text(field) for field in fields}

    def close(self) -> None:
        self._client.close()
