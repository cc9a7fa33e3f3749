"""The tick store: the latest tick of every (exchange, symbol) in Redis.

Layout (see ``service.keys``): one hash per exchange, ``board:{exchange}``,
field = unified symbol, value = tick JSON, so one pair is one ``HGET`` and an
exchange's whole board is one ``HGETALL``. Each written batch is also
published as one JSON array on ``ticks:{exchange}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis

from service.errors import StoreError
from service.keys import Keys
from workers.clock import now_ms
from workers.redis_text import text
from workers.ticks import TICK_FIELDS

Tick = dict[str, Any]


def _encode(tick: Tick) -> bytes:
    # orjson: several times faster than json.dumps on the per-tick hot path.
    return orjson.dumps(tick)


class TickWriter:
    """Writes batches of ticks from a streaming job: one pipeline, one round trip.

    A batch holds every update observed, oldest first: the board keeps each
    symbol's last, the pub/sub feed carries them all.
    """

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    async def write(self, exchange: str, ticks: Sequence[Tick]) -> None:
        if not ticks:
            return
        encoded = [_encode(tick) for tick in ticks]
        # A symbol may appear more than once: the board keeps the last, the feed all.
        latest = {tick["symbol"]: raw for tick, raw in zip(ticks, encoded, strict=True)}
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.keys.board(exchange), mapping=latest)  # type: ignore[arg-type]
        pipe.sadd(self.keys.exchanges(), exchange)
        pipe.publish(self.keys.tick_channel(exchange), b"[" + b",".join(encoded) + b"]")
        try:
            await pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"writing {len(ticks)} ticks of {exchange}: {exc}") from exc

    async def remove(self, exchange: str, symbols: Iterable[str]) -> None:
        """Drop symbols that are no longer streamed, so readers never see a frozen price."""
        symbols = list(symbols)
        if not symbols:
            return
        try:
            await self.client.hdel(self.keys.board(exchange), *symbols)
        except redis.RedisError as exc:
            raise StoreError(f"removing {len(symbols)} symbols of {exchange}: {exc}") from exc


class TickReader:
    """What trading bots and dashboards call: latest ticks with a stale flag.

    A tick has every field of ``workers.ticks.TICK_FIELDS`` (None where the exchange
    gives none) plus ``stale``.
    """

    def __init__(self, client: redis.Redis, keys: Keys, *, stale_after_s: float = 30.0) -> None:
        self.client = client
        self.keys = keys
        self.stale_after_ms = stale_after_s * 1000

    def get(self, exchange: str, symbol: str) -> Tick | None:
        """The latest tick of one pair, or None; one HGET."""
        raw = self._call(self.client.hget, self.keys.board(exchange), symbol)
        return self._decode(raw, now_ms()) if raw is not None else None

    def get_exchange(self, exchange: str) -> dict[str, Tick]:
        """Every latest tick of one exchange, by symbol; one HGETALL."""
        raw = self._call(self.client.hgetall, self.keys.board(exchange))
        now = now_ms()
        return {text(symbol): self._decode(value, now) for symbol, value in raw.items()}

    def exchanges(self) -> list[str]:
        names = self._call(self.client.smembers, self.keys.exchanges())
        return sorted(text(name) for name in names)

    def get_price(self, symbol: str, prefer: Sequence[str] = ()) -> Tick | None:
        """The best tick for ``symbol`` across exchanges.

        Exchanges in ``prefer`` are tried in order, then the rest by name; the
        first fresh tick wins, and a stale one (``stale: True``) is returned
        only when no exchange has a fresh one. None when nobody has the symbol.
        """
        order = list(dict.fromkeys([*prefer, *self.exchanges()]))
        pipe = self.client.pipeline(transaction=False)
        for exchange in order:
            pipe.hget(self.keys.board(exchange), symbol)
        raws = self._call(pipe.execute)
        now = now_ms()
        ticks = [self._decode(raw, now) for raw in raws if raw is not None]
        fresh = [tick for tick in ticks if not tick["stale"]]
        best = fresh or ticks
        return best[0] if best else None

    def _decode(self, raw: bytes | str, now: int) -> Tick:
        stored: Tick = json.loads(raw)
        # Every field, in order, even from a tick an older version wrote with fewer.
        tick: Tick = {field: stored.get(field) for field in TICK_FIELDS} | stored
        tick["stale"] = now - int(tick["received_at"]) > self.stale_after_ms
        return tick

    def _call(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except redis.RedisError as exc:
            raise StoreError(f"reading ticks: {exc}") from exc
