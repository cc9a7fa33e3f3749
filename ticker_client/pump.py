"""``HistoryStream``: a blocking, streamed database read consumed from async code.

The rows are read by a blocking iterator (SQLAlchemy through the repository) in
a thread of its own, so the event loop never waits on the database; the
thread hands them over in batches through a small bounded queue, so at most a
few batches are read ahead of the consumer and memory stays flat however long
the range. Stopping early (``break``, ``aclose()``, leaving ``async with``, or
the stream being garbage-collected) stops the thread at its next batch and
closes its cursor and transaction.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass
from itertools import islice
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

BATCH_ROWS = 1_000
QUEUED_BATCHES = 2  # handed over but not yet taken: with one in hand, ~4 batches read ahead
POLL_S = 0.1  # how often a producer waiting on a full queue looks whether it was stopped


@dataclass(frozen=True)
class _Failed:
    error: BaseException


@dataclass
class _Progress:
    fetched: int = 0


_END = object()


class HistoryStream(Generic[T]):
    """An async iterator of history rows (``Candle`` or ``Trade``), read in batches.

    Iterate it with ``async for``; ``batches()`` gives the same rows as lists of
    up to ``batch_rows`` (handy for a DataFrame); ``fetched`` is how many rows
    have been read from the database so far. Close it (``async with`` does) when
    you stop before the end; errors of the read (``HistoryUnavailable``...)
    are raised where you iterate.

    Example::

        async with client.trades("binance", "BTC/USDT", start, end) as trades:
            async for trade in trades:
                print(trade.id, trade.price)
    """

    def __init__(self, rows: Callable[[], Iterator[T]], *, batch_rows: int = BATCH_ROWS) -> None:
        self._current: Iterator[T] = iter(())
        self._progress = _Progress()
        self._batches = _batches(rows, batch_rows, self._progress)

    @property
    def fetched(self) -> int:
        """Rows read from the database so far (a few batches ahead of what you took, at most)."""
        return self._progress.fetched

    def __aiter__(self) -> HistoryStream[T]:
        return self

    async def __anext__(self) -> T:
        row = next(self._current, _END)
        if row is _END:
            self._current = iter(await self._batches.__anext__())
            row = next(self._current)
        return row  # type: ignore[return-value]

    async def batches(self) -> AsyncIterator[list[T]]:
        """The rows not yet taken, as lists of up to ``batch_rows``.

        Example::

            async for batch in client.candles("binance", "BTC/USDT", start, end).batches():
                frame = pandas.DataFrame(batch)
        """
        rest = list(self._current)
        if rest:
            yield rest
        async for batch in self._batches:
            yield batch

    async def aclose(self) -> None:
        """Stop reading: the thread stops at its next batch (``async with`` does it).

        Example: ``stream = client.trades(...); ...; await stream.aclose()``.
        """
        await self._batches.aclose()

    async def __aenter__(self) -> HistoryStream[T]:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _batches(
    rows: Callable[[], Iterator[T]], batch_rows: int, progress: _Progress
) -> AsyncGenerator[list[T], None]:
    """The batches the producer thread hands over. Its finally (stop the thread) runs on
    aclose() and when the stream is dropped: nothing here refers back to the stream, so
    an abandoned one is freed at once and the loop's finalizer closes this generator."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue(QUEUED_BATCHES)
    stop = threading.Event()
    threading.Thread(
        target=_produce,
        args=(rows, batch_rows, progress, (loop, queue, stop)),
        name="ticker-client-history",
        daemon=True,
    ).start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()


Handoff = tuple[asyncio.AbstractEventLoop, "asyncio.Queue[object]", threading.Event]


def _produce(
    read: Callable[[], Iterator[T]], batch_rows: int, progress: _Progress, handoff: Handoff
) -> None:
    """The thread: read batches and hand them over until the end, an error, or a stop."""
    rows: Iterator[T] | None = None
    try:
        rows = read()
        while batch := list(islice(rows, batch_rows)):
            progress.fetched += len(batch)
            if not _hand(batch, handoff):
                return
        _hand(_END, handoff)
    except BaseException as exc:  # raised where the consumer iterates
        _hand(_Failed(exc), handoff)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # ends the cursor and the transaction now, not at collection


def _hand(item: object, handoff: Handoff) -> bool:
    """Put ``item`` on the consumer's queue, waiting for room; False once the consumer left."""
    loop, queue, stop = handoff
    if stop.is_set() or loop.is_closed():
        return False
    put = queue.put(item)
    try:
        future = asyncio.run_coroutine_threadsafe(put, loop)
    except RuntimeError:  # the loop closed in between
        put.close()
        return False
    while True:
        try:
            future.result(POLL_S)
            return True
        except TimeoutError:
            if stop.is_set() or loop.is_closed():
                future.cancel()
                return False
        except CancelledError:  # the loop cancelled the put as it shut down
            return False
