"""The sending side: shared feed switches and one paced send loop per connection.

One asyncio task per websocket connection sends the frames of all its
subscribed streams round-robin, paced by a credit counter (``rate`` events/s
per stream; ``rate == 0`` means as fast as the socket takes them). Building a
frame steps the symbol's ticker, so the market always holds the last values
sent.

A stream with a replay (``Feed.replays``) sends its recorded frames once per
subscription, in order, instead of generated ones, then stays silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from service.simulator.market import Market, Ticker
from workers.clock import now_ms

FULL_RATE_BATCH = 256  # frames sent between yields to the event loop at full rate
MAX_BATCH = 2000  # most frames sent in one go when paced
MAX_IDLE_S = 0.05  # longest sleep, so pause/rate/subscription changes apply quickly
MIN_SLEEP_S = 0.002
CATCH_UP_S = 0.25  # a loop that fell behind may send at most this much backlog at once
# Between replayed frames: a client reads each one as its own update, as from an exchange.
REPLAY_GAP_S = 0.01


def verbatim(text: str) -> str:
    return text


@dataclass(eq=False)
class Stream:
    """One subscribed stream: a symbol's ticker and how to render its frame."""

    name: str
    ticker: Ticker
    render: Callable[[Ticker], str]
    # How a replayed frame goes on this subscription's wire (e.g. a combined-stream wrapper).
    wrap: Callable[[str], str] = verbatim
    replayed: bool = False


class Feed:
    """Switches and counters shared by every connection of one simulator."""

    def __init__(
        self, market: Market, rate: float, replays: Mapping[str, tuple[str, ...]] | None = None
    ) -> None:
        self.market = market
        self.rate = rate
        # stream name -> recorded frames sent to each new subscriber of that stream
        self.replays = dict(replays or {})
        self.events_sent = 0
        # per unified symbol: lets a test see one symbol's frames stop after an unsubscribe
        self.events_sent_by_symbol: Counter[str] = Counter()
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

    def count(self, stream: Stream) -> None:
        """Count one frame of ``stream`` sent."""
        self.events_sent += 1
        self.events_sent_by_symbol[stream.ticker.symbol] += 1


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
    _replay: deque[tuple[str, str]] = field(default_factory=deque)  # (stream name, text)

    def subscribe(self, streams: list[Stream]) -> None:
        for stream in streams:
            self.streams[stream.name] = stream
            if stream.name in self.feed.replays:
                self.play(stream.name, self.feed.replays[stream.name])
        self._reorder()

    def unsubscribe(self, names: list[str]) -> None:
        for name in names:
            self.streams.pop(name, None)
        self._replay = deque(item for item in self._replay if item[0] in self.streams)
        self._reorder()

    def play(self, name: str, frames: tuple[str, ...]) -> bool:
        """Queue ``frames`` for subscribed stream ``name``, which sends nothing else now.

        Returns False when this connection is not subscribed to ``name``.
        """
        stream = self.streams.get(name)
        if stream is None:
            return False
        stream.replayed = True
        self._replay.extend((name, stream.wrap(text)) for text in frames)
        self._reorder()
        return True

    def _reorder(self) -> None:
        self._order = [stream for stream in self.streams.values() if not stream.replayed]
        self._changed.set()

    async def send_loop(self) -> None:
        """Send frames until the socket closes; returns quietly on a closed socket."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            while not self.ws.closed:
                if self._replay:
                    await self._send_replay()
                elif not self._order:
                    self._changed.clear()
                    await self._changed.wait()
                else:
                    await self._paced_until_change()

    async def _send_replay(self) -> None:
        while self._replay and not self.ws.closed:
            await self.feed.wait_open()
            if not self._replay:  # unsubscribed while paused
                return
            name, text = self._replay.popleft()
            stream = self.streams[name]  # unsubscribing drops the stream's queued frames
            await self.ws.send_str(text)
            self.feed.count(stream)
            await asyncio.sleep(REPLAY_GAP_S)

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
            feed.count(stream)
