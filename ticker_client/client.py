"""``TickerClient``: the async reader of the tick store, the feed, the health registry and,
from the database, market history."""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

import redis.asyncio as aioredis

from service.errors import ConfigError
from service.keys import Keys
from service.redaction import redact_url
from service.redis_client import async_client
from service.settings import DEFAULT_REDIS_URL, Settings
from ticker_client.arguments import check_config, check_names, names_of, preference
from ticker_client.errors import InvalidArgument, NotFound, translated
from ticker_client.feed import Subscription
from ticker_client.health import Health, read_health
from ticker_client.history import HistoryReader
from ticker_client.history_calls import HistoryCalls
from ticker_client.records import Tick, decode_json
from workers.clock import now_ms
from workers.redis_text import text

DEFAULT_NAME = "ticker_client"


class TickerClient(HistoryCalls):
    """Reads what the service writes to Redis; use it with ``async with``.

    ``url`` is any URL the service takes (``redis://``, ``rediss://``,
    ``unix://``, ``redis+sentinel://``); ``prefix`` is the service's
    ``TICKER_KEY_PREFIX``; a tick older than ``stale_after_s`` is ``stale``;
    ``name`` is this client's connection name in ``CLIENT LIST``;
    ``database_url`` is the service's ``DATABASE_URL``, needed only by the
    history calls (``candles``, ``trades``, ``coverage``), which import
    SQLAlchemy on first use. ``TickerClient.from_env()`` takes all of them (and
    the intervals health is judged by) from the same environment variables as
    the service.

    Example::

        async with TickerClient("redis://127.0.0.1:6379/0") as client:
            tick = await client.price("BTC/USDT", prefer=["binance", "okx"])
            print(tick.exchange, tick.last, tick.stale)
    """

    def __init__(
        self,
        url: str = DEFAULT_REDIS_URL,
        *,
        prefix: str = "ticker",
        stale_after_s: float = 30.0,
        name: str = DEFAULT_NAME,
        database_url: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        base = settings or Settings()
        self.settings = dataclasses.replace(
            base, redis_url=url, key_prefix=prefix, stale_after_s=stale_after_s
        )
        check_config(self.settings, name)
        self.keys = Keys(prefix)
        self.name = name
        self._stale_after_ms = stale_after_s * 1000
        try:
            self.redis: aioredis.Redis = async_client(url, client_name=name)
        except (ValueError, ConfigError) as exc:
            raise InvalidArgument(f"url {redact_url(url)!r}: {exc}") from exc
        self.history = HistoryReader(database_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> TickerClient:
        """A client configured like the service: ``REDIS_URL`` (or ``REDIS_HOST``...),
        ``TICKER_KEY_PREFIX``, ``STALE_AFTER_S``, the health intervals, and
        ``DATABASE_URL`` for history (only when set: the service's default is a
        SQLite file relative to its own directory, which the client does not guess).

        Raises InvalidArgument naming a variable whose value is unusable.

        Example::

            client = TickerClient.from_env()   # REDIS_URL=redis://cache:6379/0 in the env
        """
        try:
            settings = Settings.from_env(env)
        except ConfigError as exc:
            raise InvalidArgument(str(exc)) from exc
        if "DATABASE_URL" in (os.environ if env is None else env):
            options.setdefault("database_url", settings.database_url)
        return cls(
            settings.redis_url,
            prefix=settings.key_prefix,
            stale_after_s=settings.stale_after_s,
            settings=settings,
            **options,
        )

    async def __aenter__(self) -> TickerClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (``async with`` does it for you).

        Example: ``client = TickerClient(url); ...; await client.aclose()``.
        """
        await self.redis.aclose()
        await asyncio.to_thread(self.history.close)

    # -- tickers ---------------------------------------------------------------------------

    async def get(self, exchange: str, symbol: str) -> Tick:
        """The latest tick of ``symbol`` on ``exchange``; one HGET.

        Raises NotFound when the service stores none, ConnectionLost when Redis
        does not answer.

        Example::

            tick = await client.get("binance", "BTC/USDT")
            print(tick.last, tick.timestamp_utc, tick.stale)
        """
        check_names(exchange=exchange, symbol=symbol)
        with translated(f"reading {symbol} on {exchange}"):
            raw = await self.redis.hget(self.keys.board(exchange), symbol)
        if raw is None:
            raise NotFound(f"no tick stored for {symbol} on {exchange}")
        return self._tick(raw, now_ms(), f"the tick of {symbol} on {exchange}")

    async def board(self, exchange: str) -> dict[str, Tick]:
        """Every latest tick of ``exchange`` by symbol (sorted); one HGETALL.

        Raises NotFound when the exchange has no tick stored.

        Example::

            for symbol, tick in (await client.board("binance")).items():
                print(symbol, tick.last)
        """
        check_names(exchange=exchange)
        with translated(f"reading the board of {exchange}"):
            raw = await self.redis.hgetall(self.keys.board(exchange))
        if not raw:
            raise NotFound(f"no ticks stored for exchange {exchange}")
        now = now_ms()
        ticks = {text(symbol): value for symbol, value in raw.items()}
        return {
            s: self._tick(ticks[s], now, f"the tick of {s} on {exchange}") for s in sorted(ticks)
        }

    async def exchanges(self) -> list[str]:
        """The names of the exchanges that have a board, sorted; one SMEMBERS.

        Example::

            print(await client.exchanges())   # ['binance', 'okx']
        """
        with translated("reading the exchanges"):
            names = await self.redis.smembers(self.keys.exchanges())
        return sorted(text(name) for name in names)

    async def price(self, symbol: str, prefer: Sequence[str] = ()) -> Tick:
        """The best tick of ``symbol`` across exchanges.

        Exchanges in ``prefer`` are tried in that order, then every other one
        by name: the first fresh tick wins. When every exchange's tick is stale
        the freshest of them is returned (``stale`` True). One round trip when
        a preferred exchange has a fresh tick, two otherwise. Raises NotFound
        when no exchange has the symbol.

        Example::

            tick = await client.price("BTC/USDT", prefer=["binance", "okx"])
            print(tick.exchange, tick.last, "stale!" if tick.stale else "")
        """
        check_names(symbol=symbol)
        preferred = preference(prefer)
        with translated(f"reading the price of {symbol}"):
            pipe = self.redis.pipeline(transaction=False)
            pipe.smembers(self.keys.exchanges())
            for exchange in preferred:
                pipe.hget(self.keys.board(exchange), symbol)
            members, *raws = await pipe.execute()
            ticks = self._ticks_of(symbol, preferred, raws)
            if any(not tick.stale for tick in ticks):
                return _best(ticks)
            others = sorted(set(map(text, members)) - set(preferred))
            ticks += self._ticks_of(symbol, others, await self._hget_each(others, symbol))
        if not ticks:
            raise NotFound(f"no exchange has a tick for {symbol}")
        return _best(ticks)

    async def _hget_each(self, exchanges: Sequence[str], symbol: str) -> list[Any]:
        pipe = self.redis.pipeline(transaction=False)
        for exchange in exchanges:
            pipe.hget(self.keys.board(exchange), symbol)
        return list(await pipe.execute()) if exchanges else []

    def _ticks_of(self, symbol: str, exchanges: Sequence[str], raws: Sequence[Any]) -> list[Tick]:
        now = now_ms()
        return [
            self._tick(raw, now, f"the tick of {symbol} on {exchange}")
            for exchange, raw in zip(exchanges, raws, strict=True)
            if raw is not None
        ]

    def _tick(self, raw: bytes | str, now: int, what: str) -> Tick:
        return Tick.from_stored(
            decode_json(raw, what), now_ms=now, stale_after_ms=self._stale_after_ms
        )

    # -- the feed --------------------------------------------------------------------------

    def subscribe(
        self,
        exchanges: Iterable[str] | None = None,
        symbols: Iterable[str] | None = None,
        *,
        give_up_after_s: float | None = None,
    ) -> Subscription:
        """Every tick the service writes, as it writes it: an async iterator of events.

        ``exchanges``/``symbols`` narrow the feed (None: all, including
        exchanges that appear later). Events are ``Tick``s and, after the
        connection dropped and came back (or a message could not be read), a
        ``Gap`` followed by the board's ticks newer than the last seen of each
        symbol: nothing is missed silently. It reconnects forever unless
        ``give_up_after_s`` is set (then it raises ConnectionLost). The first
        connection failing raises ConnectionLost at once.

        Example::

            async with client.subscribe(exchanges=["binance"], symbols=["BTC/USDT"]) as feed:
                async for event in feed:
                    if isinstance(event, Tick):
                        print(event.symbol, event.last)
                    else:
                        print("gap:", event.reason)
        """
        return Subscription(
            self,
            exchanges=names_of("exchanges", exchanges),
            symbols=names_of("symbols", symbols),
            give_up_after_s=give_up_after_s,
        )

    # -- health ----------------------------------------------------------------------------

    async def health(self) -> Health:
        """Jobs, workers and the beat, exactly as ``ticker-service status`` shows them.

        Judged with this client's settings (``from_env`` takes the service's
        ``HEARTBEAT_INTERVAL_S``, ``STALE_AFTER_S``... ; the constructor the defaults).
        Raises ConnectionLost when Redis does not answer.

        Example::

            health = await client.health()
            for job in health.jobs:
                print(job.job_key, job.state, job.reason)
            print("healthy" if health.healthy else "not healthy")
        """
        return await read_health(self.redis, self.keys, self.settings)


def _best(ticks: list[Tick]) -> Tick:
    fresh = next((tick for tick in ticks if not tick.stale), None)
    return fresh or max(ticks, key=lambda tick: tick.received_at)
