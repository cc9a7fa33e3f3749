"""The sending side: shared feed switches and one paced send loop per connection.

One asyncio task per websocket connection sends the frames of all its
subscribed streams round-robin, paced by a credit counter (``rate`` events/s
per stream; ``rate == 0`` means as fast as the socket takes them). Building a
frame steps the symbol's ticker, so the market always holds the last values
sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from service.simulator.market import Market, Ticker
from workers.clock import now_ms

FULL_RATE_BATCH = 256  # frames sent between yields to the event loop at full rate
MAX_BATCH = 2000  # most frames sent in one go when paced
MAX_IDLE_S = 0.05  # longest sleep, so pause/rate/subscription changes apply quickly
MIN_SLEEP_S = 0.002
CATCH_UP_S = 0.25  # a loop that fell behind may send at most this much backlog at once


@dataclass(eq=False)
class Stream:
    """One subscribed stream: a symbol's ticker and how to render its frame."""

    name: str
    ticker: Ticker
    render: Callable[[Ticker], str]


class Feed:
    """Switches and counters shared by every connection of one simulator."""

    def __init__(self, market: Market, rate: float) -> None:
        self.market = market
        self.rate = rate
        self.events_sent = 0
        self.paused = False
        self.stalled = False
        self._open = asyncio.Event()
        self._open.set()

    def update_gate(self) -> None:
        if self.paused or self.stalled:
            self._open.clear()
        else:
            self._open.set()

    @property
    def sending(self) -> bool:
        return self._open.is_set()

    async def wait_open(self) -> None:
        await self._open.wait()

    def next_frame(self, stream: Stream) -> str:
        """Step the stream's ticker stamped with the send time and render its frame."""
        return stream.render(self.market.step(stream.ticker, now_ms()))


@dataclass(eq=False)
class Connection:
    """One websocket client: its path, its subscriptions and its send loop."""

    ws: web.WebSocketResponse
    path: str
    feed: Feed
    transport: asyncio.Transport | None = None
    streams: dict[str, Stream] = field(default_factory=dict)
    _order: list[Stream] = field(default_factory=list)
    _next: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def subscribe(self, streams: list[Stream]) -> None:
        for stream in streams:
            self.streams[stream.name] = stream
        self._reorder()

    def unsubscribe(self, names: list[str]) -> None:
        for name in names:
            self.streams.pop(name, None)
        self._reorder()

    def _reorder(self) -> None:
        self._order = list(self.streams.values())
        self._changed.set()

    async def send_loop(self) -> None:
        """Send frames until the socket closes; returns quietly on a closed socket."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.ws.closed:
                if not self._order:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                await self._paced_until_change()

    async def _paced_until_change(self) -> None:
        feed = self.feed
        await feed.wait_open()
        credit, last = 0.0, time.monotonic()
        self._changed.clear()
        while feed.sending and self._order and not self._changed.is_set() and not self.ws.closed:
            if feed.rate <= 0:
                await self._send(FULL_RATE_BATCH)
                await asyncio.sleep(0)
                continue
            per_s = feed.rate * len(self._order)
            now = time.monotonic()
            credit = min(credit + (now - last) * per_s, max(1.0, per_s * CATCH_UP_S))
            last = now
            count = min(int(credit), MAX_BATCH)
            credit -= count
            await self._send(count)
            wait = (1.0 - credit) / per_s if credit < 1.0 else 0.0
            await asyncio.sleep(min(max(wait, MIN_SLEEP_S), MAX_IDLE_S))

    async def _send(self, count: int) -> None:
        order, feed, send = self._order, self.feed, self.ws.send_str
        for _ in range(count):
            # an (un)subscribe or a pause takes effect from the next frame on
            if self._order is not order or not feed.sending:
                return
            if self._next >= len(order):
                self._next = 0
            stream = order[self._next]
            self._next += 1
            await send(feed.next_frame(stream))
            feed.events_sent += 1
