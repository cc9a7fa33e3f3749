"""``Subscription``: the pub/sub feed as an async iterator that never drops ticks silently.

The service publishes each written batch as one JSON array on
``{prefix}:ticks:{exchange}``. Redis pub/sub delivers only to connected
subscribers, so whatever is published while the connection is down is gone;
redis-py would even reconnect and resubscribe on its own, hiding that. This
subscriber owns its connection instead (no retries inside redis-py) and, when
it drops, a PING goes unanswered or a message cannot be read:

1. reconnects with capped, jittered backoff and subscribes again (waiting for
   Redis to confirm, so nothing published from then on is missed);
2. yields a ``Gap`` saying when and why;
3. reads the boards and yields every tick newer than the last it had seen of
   that symbol (the exchange's newest seen tick, or the subscription's start,
   for symbols not seen yet);
4. skips feed ticks no newer than what step 3 yielded for their symbol (the
   same update arriving twice), and only those.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from service.redis_client import async_client
from ticker_client.errors import BadData, ConnectionLost, translated
from ticker_client.records import Event, Gap, Tick, decode_json
from workers.clock import now_ms

if TYPE_CHECKING:
    from ticker_client.client import TickerClient

# Quiet this long: send a PING; quiet for DEAD_AFTER_S: the connection is gone.
PING_AFTER_S = 2.0
DEAD_AFTER_S = 6.0
READ_TIMEOUT_S = 0.5
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 2.0
SUBSCRIBE_MESSAGES = frozenset({"subscribe", "psubscribe"})
FEED_MESSAGES = frozenset({"message", "pmessage"})
LOST = (redis.ConnectionError, redis.TimeoutError, OSError, ConnectionLost)

Pair = tuple[str, str]


def glob_escaped(text: str) -> str:
    """``text`` matched literally inside a PSUBSCRIBE pattern."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


class Subscription:
    """An async iterator of ``Tick`` and ``Gap`` events; made by ``TickerClient.subscribe``.

    Use it with ``async with`` (or call ``aclose()``) so its connection closes
    when you stop early. ``run(on_tick)`` calls your function for every tick.

    Example::

        async with client.subscribe(symbols=["BTC/USDT"]) as feed:
            async for event in feed:
                print(event)
    """

    def __init__(
        self,
        client: TickerClient,
        *,
        exchanges: tuple[str, ...] | None,
        symbols: tuple[str, ...] | None,
        give_up_after_s: float | None,
    ) -> None:
        self._client = client
        self.exchanges = exchanges
        self.symbols = frozenset(symbols) if symbols is not None else None
        self._give_up_after_s = give_up_after_s
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._pending: deque[Event] = deque()
        self._started_at = 0
        self._heard = 0.0
        self._last: dict[Pair, int] = {}  # received_at of the last tick yielded, per pair
        self._newest: dict[str, int] = {}  # of any tick yielded, per exchange
        self._floor: dict[Pair, int] = {}  # refilled: skip feed ticks up to this
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> Subscription:
        """Connect and subscribe now (iterating does it too); raises ConnectionLost.

        Example: ``feed = await client.subscribe(["binance"]).start()`` fails at once
        when Redis does not answer, instead of at the first ``anext(feed)``.
        """
        if self._pubsub is None and not self._closed:
            await self._connect()
            self._started_at = now_ms()
        return self

    async def __aenter__(self) -> Subscription:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unsubscribe and close the connection; iterating afterwards stops at once.

        Example: ``await feed.aclose()`` (``async with client.subscribe(...) as feed`` does it).
        """
        self._closed = True
        await self._drop_connection()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        await self.start()
        while not self._pending:
            if self._closed:
                raise StopAsyncIteration
            await self._read()
        return self._pending.popleft()

    async def run(
        self,
        on_tick: Callable[[Tick], Awaitable[None] | None],
        on_gap: Callable[[Gap], Awaitable[None] | None] | None = None,
    ) -> None:
        """Call ``on_tick`` for every tick (and ``on_gap`` for every gap) until closed.

        Either may be a plain function or a coroutine function.

        Example::

            def on_tick(tick: Tick) -> None:
                print(tick.exchange, tick.symbol, tick.last)

            async with client.subscribe(symbols=["BTC/USDT"]) as feed:
                await asyncio.wait_for(feed.run(on_tick), timeout=10)
        """
        async for event in self:
            handler = on_tick if isinstance(event, Tick) else on_gap
            if handler is not None:
                result = handler(event)  # type: ignore[arg-type]
                if asyncio.iscoroutine(result):
                    await result

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            message = await self._pubsub.get_message(timeout=READ_TIMEOUT_S)
            if message is None:
                await self._check_alive()
                return
        except LOST as exc:
            await self._recover(f"connection lost: {exc or type(exc).__name__}")
            return
        self._heard = time.monotonic()
        if message["type"] in FEED_MESSAGES:
            await self._take(message["data"])

    async def _check_alive(self) -> None:
        quiet = time.monotonic() - self._heard
        if quiet > DEAD_AFTER_S:
            raise ConnectionLost(f"no message and no answer to PING for {quiet:.1f} s")
        if quiet > PING_AFTER_S:
            await self._pubsub.ping()

    async def _take(self, data: bytes) -> None:
        try:
            batch = decode_json(data, "a feed message")
            if not isinstance(batch, list):
                raise BadData(f"a feed message is not a JSON array: {data!r:.120}")
            for item in batch:
                self._offer(item)
        except (BadData, AttributeError) as exc:
            # The rest of that batch is lost: say so, and take it from the boards.
            await self._recover(f"unreadable feed message: {exc}", reconnect=False)

    def _offer(self, item: dict[str, Any]) -> None:
        if self.symbols is not None and item.get("symbol") not in self.symbols:
            return
        stale_after_ms = self._client.settings.stale_after_s * 1000
        tick = Tick.from_stored(item, now_ms=now_ms(), stale_after_ms=stale_after_ms)
        pair = (tick.exchange, tick.symbol)
        floor = self._floor.get(pair)
        if floor is not None:
            if tick.received_at <= floor:
                return  # already yielded from the board after a gap
            del self._floor[pair]
        self._yield(tick)

    def _yield(self, tick: Tick) -> None:
        self._last[(tick.exchange, tick.symbol)] = tick.received_at
        if tick.received_at > self._newest.get(tick.exchange, 0):
            self._newest[tick.exchange] = tick.received_at
        self._pending.append(tick)

    # -- connection ------------------------------------------------------------------------

    async def _connect(self) -> None:
        """Subscribe on a fresh connection and wait for Redis to confirm every channel."""
        if self._redis is None:
            # No retries inside redis-py: a reconnect it made on its own would hide a gap.
            self._redis = async_client(
                self._client.settings.redis_url,
                client_name=f"{self._client.name}:feed",
                retry=Retry(NoBackoff(), 0),
            )
        pubsub = self._redis.pubsub()
        self._pubsub = pubsub
        keys = self._client.keys
        with translated("subscribing to the tick feed"):
            if self.exchanges is None:
                await pubsub.psubscribe(glob_escaped(keys.tick_channel("")) + "*")
                wanted = 1
            else:
                await pubsub.subscribe(*(keys.tick_channel(name) for name in self.exchanges))
                wanted = len(self.exchanges)
            await self._confirmed(pubsub, wanted)
        self._heard = time.monotonic()

    async def _confirmed(self, pubsub: Any, wanted: int) -> None:
        deadline = time.monotonic() + DEAD_AFTER_S
        while wanted:
            if time.monotonic() > deadline:
                raise ConnectionLost(f"Redis did not confirm the subscription in {DEAD_AFTER_S} s")
            message = await pubsub.get_message(timeout=READ_TIMEOUT_S)
            if message is None:
                continue
            if message["type"] in SUBSCRIBE_MESSAGES:
                wanted -= 1
            elif message["type"] in FEED_MESSAGES:
                await self._take(message["data"])

    async def _drop_connection(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except (*LOST, redis.RedisError):
                pass  # it is gone already
        if self._closed and self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    # -- gaps ------------------------------------------------------------------------------

    async def _recover(self, reason: str, *, reconnect: bool = True) -> None:
        """Reconnect if asked, then announce the gap and yield what the boards hold."""
        lost_at = now_ms()
        attempts = 0
        while not self._closed:
            if reconnect:
                attempts += await self._reconnect(lost_at)
            try:
                refill = await self._refill()
            except ConnectionLost as exc:
                reason, reconnect = f"{reason}; then {exc}", True
                continue
            self._pending.append(Gap(self.exchanges, lost_at, now_ms(), reason, max(attempts, 1)))
            for tick in refill:
                self._floor[(tick.exchange, tick.symbol)] = tick.received_at
                self._yield(tick)
            return

    async def _reconnect(self, lost_at: int) -> int:
        """Attempts it took to subscribe again; raises ConnectionLost past ``give_up_after_s``."""
        await self._drop_connection()
        attempts = 0
        while not self._closed:
            attempts += 1
            try:
                await self._connect()
                return attempts
            except ConnectionLost as exc:
                waited_s = (now_ms() - lost_at) / 1000
                if self._give_up_after_s is not None and waited_s > self._give_up_after_s:
                    raise ConnectionLost(
                        f"the tick feed stayed down for {waited_s:.1f} s "
                        f"({attempts} attempts): {exc}"
                    ) from exc
                await self._drop_connection()
                await asyncio.sleep(backoff_s(attempts))
        return attempts

    async def _refill(self) -> list[Tick]:
        """The boards' ticks newer than the last seen of their symbol, oldest first."""
        exchanges = self.exchanges or tuple(await self._client.exchanges())
        found: list[Tick] = []
        for exchange in exchanges:
            try:
                board = await self._client.board(exchange)
            except LookupError:
                continue  # nothing stored for it (yet)
            since = self._newest.get(exchange, self._started_at)
            for symbol, tick in board.items():
                wanted = self.symbols is None or symbol in self.symbols
                if wanted and tick.received_at > self._last.get((exchange, symbol), since):
                    found.append(tick)
        return sorted(found, key=lambda tick: tick.received_at)


def backoff_s(attempt: int) -> float:
    """Seconds before reconnect attempt ``attempt + 1``: doubling, capped, with jitter."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempt - 1))
    return ceiling * random.uniform(0.5, 1.0)
