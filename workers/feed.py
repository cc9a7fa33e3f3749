"""One ccxt client's ticker feed: readers that keep ``latest`` current.

Readers only drive the client (await a watch, or poll REST) and call
``on_update(group)``; they never write anywhere. ccxt conflates: a watch
resolves once per await while frames that arrive meanwhile only update
``exchange.tickers``. So ``latest`` *is* that cache (for websockets), and the
job's outbox compares the group's entries with what it saw last: every symbol
that changed is caught, whatever the last await returned.

Removing symbols unsubscribes them where ccxt can (``workers.unwatch``): each
group's removed symbols on the group's own connection, while its reader goes on
watching the rest, which ccxt still holds as subscribed (no new subscription,
no gap). Elsewhere frames of removed symbols arrive until the next rebuild and
the writer ignores them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import ccxt
import structlog

from workers.bounded import within
from workers.exchange_client import read_method, watch_params
from workers.spec import JobSpec
from workers.unwatch import can_unwatch, pin_subsets, unwatch

log = structlog.stdlib.get_logger(__name__)

# ccxt binance allows 200 subscriptions per stream (connection). Each watch_tickers call
# races every message hash of its group, so smaller groups cost less CPU per frame: 50
# took p99 latency at 1,000 ticks/s from 10.6-13.6 ms (100) to 8.7 ms (bench/latency.py).
WATCH_GROUP_SIZE = 50
CLOSE_TIMEOUT_S = 2.0
UNWATCH_TIMEOUT_S = 5.0  # an exchange that never confirms an unsubscribe: warn, move on


@dataclass(eq=False)
class Group:
    """The symbols one reader watches, as one list: a different list is a new subscription."""

    symbols: list[str]


class Feed:
    """Subscriptions of one client. Fails as a whole: ``failure`` raises the first error."""

    def __init__(
        self, exchange: Any, spec: JobSpec, on_update: Callable[[list[str]], None]
    ) -> None:
        self.exchange = exchange
        self.spec = spec
        self.on_update = on_update
        self.active: set[str] = set()
        self.invalid: list[str] = []
        self.method = ""
        self.latest: dict[str, Any] = {}
        # One turn of a reader (await a watch, or one poll); open() picks it by method.
        self._turn: Callable[[list[str]], Awaitable[None]] | None = None
        self._groups: list[Group] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._unwatching: set[asyncio.Task[None]] = set()
        self._failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def open(self) -> None:
        """Load markets, set invalid symbols aside, start the readers. ccxt errors propagate."""
        await self.exchange.load_markets()
        self.method = read_method(self.exchange, self.spec.mode)
        self._turn = self._turns()[self.method]
        if self.method.startswith("watch"):
            # ccxt.pro replaces exchange.tickers[symbol] with a new dict per frame.
            self.latest = self.exchange.tickers
        self.add(self.spec.symbols)

    def add(self, symbols: Iterable[str]) -> list[str]:
        """Subscribe symbols the exchange lists; returns the ones it does not list."""
        markets = self.exchange.markets or {}
        wanted = [s for s in symbols if s not in self.active]
        invalid = [s for s in wanted if s not in markets]
        valid = [s for s in wanted if s in markets]
        self.invalid = sorted({*self.invalid, *invalid} - set(valid))
        self.active.update(valid)
        for chunk in _groups(valid, 1 if self.method == "watch_ticker" else WATCH_GROUP_SIZE):
            group = Group(chunk)
            self._groups.append(group)
            self._start(self._read(group))
        return invalid

    def remove(self, symbols: Iterable[str]) -> None:
        """Stop streaming symbols; the others keep streaming on their connections.

        Where ccxt can unwatch, the unsubscriptions go out now and are confirmed in
        the background (a failure is logged; the writer ignores what still arrives).
        """
        gone = set(symbols)
        self.active.difference_update(gone)
        self.invalid = [s for s in self.invalid if s not in gone]
        unwatchable = can_unwatch(self.exchange, self.method)
        for group in self._groups:
            if unwatchable and gone.intersection(group.symbols):
                self._shrink(group, gone)
        self._groups = [g for g in self._groups if self.active.intersection(g.symbols)]

    def _shrink(self, group: Group, gone: set[str]) -> None:
        """Unsubscribe ``group``'s symbols in ``gone``; its reader watches the rest."""
        removed = [s for s in group.symbols if s in gone]
        rest = [s for s in group.symbols if s not in gone]
        params = watch_params(self.spec)
        subscribed = pin_subsets(self.exchange, params, group.symbols, removed, rest)
        # Before any await: the reader's next turn already watches only the rest.
        group.symbols = rest
        if not subscribed:
            return  # never watched, so nothing was subscribed for it
        task = asyncio.ensure_future(self._unsubscribe(removed, params))
        self._unwatching.add(task)
        task.add_done_callback(self._unwatching.discard)

    async def _unsubscribe(self, symbols: list[str], params: dict[str, Any]) -> None:
        try:
            await asyncio.wait_for(
                unwatch(self.exchange, self.method, symbols, params), UNWATCH_TIMEOUT_S
            )
        except Exception as exc:  # a timeout, or ccxt's error: the feed itself may be fine
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("unsubscribe failed, frames ignored", symbols=symbols, error=error)
            return
        log.info("symbols unsubscribed", symbols=symbols)

    async def failure(self) -> None:
        """Wait until a reader fails, and raise its error."""
        await self._failed

    async def close(self) -> None:
        for task in [*self._tasks, *self._unwatching]:
            task.cancel()
        # Closing a broken client must neither mask why it broke nor hang.
        await within(self.exchange.close(), CLOSE_TIMEOUT_S)

    def _start(self, reader: Any) -> None:
        task = asyncio.ensure_future(reader)
        self._tasks.add(task)
        task.add_done_callback(self._reader_done)

    def _reader_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None and not self._failed.done():
            self._failed.set_exception(error)

    async def _read(self, group: Group) -> None:
        turn = self._turn
        assert turn is not None, "open() chooses the reader"
        # Always the group's list: remove() shrinks it only together with its
        # subscriptions. Where it cannot, removed symbols stay watched and ignored.
        while self.active.intersection(group.symbols):
            try:
                await turn(group.symbols)
            except ccxt.UnsubscribeError:
                continue  # the pending watch of a symbol just unsubscribed: watch the rest
            self.on_update(group.symbols)

    def _turns(self) -> dict[str, Callable[[list[str]], Awaitable[None]]]:
        """A reader's turn for each of ``read_method``'s answers."""
        return {
            "watch_tickers": self._watch_tickers,
            "watch_ticker": self._watch_ticker,
            "fetch_tickers": self._fetch_tickers,
            "fetch_ticker": self._fetch_ticker,
        }

    async def _watch_tickers(self, symbols: list[str]) -> None:
        await self.exchange.watch_tickers(symbols, watch_params(self.spec))

    async def _watch_ticker(self, symbols: list[str]) -> None:
        await self.exchange.watch_ticker(symbols[0], watch_params(self.spec))

    async def _fetch_tickers(self, symbols: list[str]) -> None:
        started = time.monotonic()
        symbols = [s for s in symbols if s in self.active]
        self.latest.update(await self.exchange.fetch_tickers(symbols))
        await asyncio.sleep(max(0.0, self.spec.poll_interval_s - (time.monotonic() - started)))

    async def _fetch_ticker(self, symbols: list[str]) -> None:
        started = time.monotonic()
        for symbol in [s for s in symbols if s in self.active]:
            self.latest[symbol] = await self.exchange.fetch_ticker(symbol)
        await asyncio.sleep(max(0.0, self.spec.poll_interval_s - (time.monotonic() - started)))


def _groups(symbols: list[str], size: int) -> list[list[str]]:
    return [symbols[i : i + size] for i in range(0, len(symbols), size)]
