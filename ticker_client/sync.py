"""``SyncTickerClient``: the async client for code without an event loop.

A thin twin: it runs a ``TickerClient`` on an event loop of its own, in a
daemon thread, and waits for each call. Safe to share between threads. The
history calls need no event loop: they read the database in the caller's thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from ticker_client.arguments import check_names, history_args, optional_window
from ticker_client.client import TickerClient
from ticker_client.feed import Subscription
from ticker_client.health import Health
from ticker_client.history_records import Candle, Coverage, Instant, Trade
from ticker_client.records import Event, Tick

T = TypeVar("T")


class SyncTickerClient:
    """The same calls as ``TickerClient``, blocking; use it with ``with``.

    Takes the same arguments as ``TickerClient`` (``from_env`` too).

    Example::

        with SyncTickerClient("redis://127.0.0.1:6379/0") as client:
            print(client.price("BTC/USDT", prefer=["binance"]).last)
    """

    def __init__(self, *args: Any, _client: TickerClient | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="ticker-client", daemon=True
        )
        self._thread.start()
        try:
            self.client = _client or TickerClient(*args, **options)
        except BaseException:
            self._stop_loop()
            raise

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> SyncTickerClient:
        """Configured like the service, from its environment variables (see TickerClient).

        Example::

            client = SyncTickerClient.from_env()
        """
        return cls(_client=TickerClient.from_env(env, **options))

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> SyncTickerClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the client's thread (``with`` does it).

        Example: ``client = SyncTickerClient(url); ...; client.close()``.
        """
        if self._loop.is_running():
            self._call(self.client.aclose())
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        if not self._loop.is_closed() and not self._loop.is_running():
            self._loop.close()

    def get(self, exchange: str, symbol: str) -> Tick:
        """See ``TickerClient.get``. Example: ``client.get("binance", "BTC/USDT").last``."""
        return self._call(self.client.get(exchange, symbol))

    def board(self, exchange: str) -> dict[str, Tick]:
        """See ``TickerClient.board``. Example: ``client.board("binance")["BTC/USDT"]``."""
        return self._call(self.client.board(exchange))

    def exchanges(self) -> list[str]:
        """See ``TickerClient.exchanges``. Example: ``client.exchanges()``."""
        return self._call(self.client.exchanges())

    def price(self, symbol: str, prefer: Sequence[str] = ()) -> Tick:
        """See ``TickerClient.price``. Example: ``client.price("BTC/USDT", prefer=["okx"])``."""
        return self._call(self.client.price(symbol, prefer))

    def health(self) -> Health:
        """See ``TickerClient.health``. Example: ``client.health().healthy``."""
        return self._call(self.client.health())

    def candles(
        self, exchange: str, symbol: str, start: Instant | None = None, end: Instant | None = None
    ) -> Iterator[Candle]:
        """See ``TickerClient.candles``; a blocking iterator, streamed from the database.

        Read it to the end or ``close()`` it (a generator): until then it holds
        a database connection.

        Example::

            for candle in client.candles("binance", "BTC/USDT", start, end):
                print(candle.open_time_utc, candle.close)
        """
        return self.client.history.candles(*history_args(exchange, symbol, start, end))

    def trades(
        self, exchange: str, symbol: str, start: Instant | None = None, end: Instant | None = None
    ) -> Iterator[Trade]:
        """See ``TickerClient.trades``; a blocking iterator, streamed (close it if you stop early).

        Example::

            for trade in client.trades("binance", "BTC/USDT", start, end):
                print(trade.id, trade.timestamp_utc, trade.price)
        """
        return self.client.history.trades(*history_args(exchange, symbol, start, end))

    def coverage(
        self, exchange: str, symbol: str, start: Instant | None = None, end: Instant | None = None
    ) -> list[Coverage]:
        """See ``TickerClient.coverage``.

        Example: ``all(s.gap_free for s in client.coverage("binance", "BTC/USDT"))``.
        """
        check_names(exchange=exchange, symbol=symbol)
        return self.client.history.coverage(exchange, symbol, *optional_window(start, end))

    def subscribe(
        self,
        exchanges: Iterable[str] | None = None,
        symbols: Iterable[str] | None = None,
        *,
        give_up_after_s: float | None = None,
    ) -> SyncSubscription:
        """See ``TickerClient.subscribe``; a blocking iterator, closed by ``with``.

        Example::

            with client.subscribe(symbols=["BTC/USDT"]) as feed:
                for event in feed:
                    print(event)
        """
        feed = self.client.subscribe(exchanges, symbols, give_up_after_s=give_up_after_s)
        return SyncSubscription(self, feed)


class SyncSubscription:
    """A ``Subscription`` read from blocking code: iterate it, close it (``with`` does)."""

    def __init__(self, owner: SyncTickerClient, feed: Subscription) -> None:
        self._owner = owner
        self._feed = feed

    def __enter__(self) -> SyncSubscription:
        self._owner._call(self._feed.start())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        try:
            return self._owner._call(self._feed.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        """Unsubscribe and close its connection (``with`` does it). Example: ``feed.close()``."""
        self._owner._call(self._feed.aclose())
