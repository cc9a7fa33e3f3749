"""``HistoryReader``: candles, trades and coverage from the database, through the repository.

The service's ``HistoryStore`` is the one way into the history tables; this
reader opens one on first use and turns its rows into the client's records.
SQLAlchemy (and the service's database modules) are imported here, lazily, on
the first history call: ``import ticker_client`` never loads them, and a client
that reads only Redis never needs them. Reads are blocking and streamed (rows
arrive in batches from a server-side cursor on Postgres); the async client runs
them in a thread (``ticker_client.pump``). Database errors leave as
``HistoryUnavailable``, a missing URL or dependency as ``HistoryNotConfigured``.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from service.errors import DatabaseError, ValidationError
from service.history.records import Range, Stream, StreamKey, Timeframe
from service.redaction import redact_url
from ticker_client.errors import (
    HistoryNotConfigured,
    HistoryUnavailable,
    InvalidArgument,
    NotFound,
)
from ticker_client.history_records import Candle, Coverage, HistoryGap, TimeRange, Trade
from workers.clock import now_ms

if TYPE_CHECKING:
    from service.history import records
    from service.history.store import HistoryStore

# What the history calls import besides the client's own: the server package's.
DATABASE_MODULES = ("sqlalchemy", "alembic")
NO_URL = (
    "no database URL: pass TickerClient(..., database_url=...) or set DATABASE_URL "
    "for TickerClient.from_env() (the service's own DATABASE_URL)"
)


class HistoryReader:
    """Blocking, streamed reads of the history tables; thread-safe; ``close()`` when done."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._store: HistoryStore | None = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise HistoryNotConfigured unless a URL is set and SQLAlchemy can be imported."""
        if not self.database_url:
            raise HistoryNotConfigured(NO_URL)
        missing = [name for name in DATABASE_MODULES if not _importable(name)]
        if missing:
            raise HistoryNotConfigured(
                f"reading history needs {' and '.join(missing)} (installed with the "
                "ticker-service package, which the client is part of): not importable here"
            )

    def candles(self, exchange: str, symbol: str, window: Range) -> Iterator[Candle]:
        """The stored 1m candles opening in ``window``, oldest first, streamed."""
        key = StreamKey(exchange, symbol, Stream.CANDLES, Timeframe.M1)

        def read(store: HistoryStore) -> Iterator[Candle]:
            for c in store.iter_candles(key, window):
                yield Candle(exchange, symbol, c.open_time, c.open, c.high, c.low, c.close,
                             c.volume, c.closed)  # fmt: skip

        return self._rows(f"reading candles of {symbol} on {exchange}", read)

    def trades(self, exchange: str, symbol: str, window: Range) -> Iterator[Trade]:
        """The stored trades in ``window``, by time then id, streamed."""
        key = StreamKey(exchange, symbol, Stream.TRADES)

        def read(store: HistoryStore) -> Iterator[Trade]:
            for t in store.iter_trades(key, window):
                yield Trade(exchange, symbol, t.id, t.timestamp, t.price, t.amount, t.side)

        return self._rows(f"reading trades of {symbol} on {exchange}", read)

    def coverage(
        self, exchange: str, symbol: str, start_ms: int | None, end_ms: int | None
    ) -> list[Coverage]:
        """The coverage of every stream the (exchange, symbol) row collects; raises NotFound."""
        self.check()  # before the imports below: they need SQLAlchemy
        from service.history.plan import horizon_ms
        from service.history.wanted import load_wanted

        assert self.database_url is not None
        now = now_ms()
        with self._translated(f"reading the coverage of {symbol} on {exchange}"):
            store = self._open()
            wanted = [
                w
                for w in load_wanted(self.database_url, now)
                if (w.key.exchange, w.key.symbol) == (exchange, symbol)
            ]
            end = horizon_ms(now) if end_ms is None else end_ms
            found = [store.coverage(w.key, _wanted(w.since_ms, start_ms, end)) for w in wanted]
        if not found:
            raise NotFound(
                f"{symbol} on {exchange} collects no history (is it an enabled symbol of an "
                "enabled exchange? ticker-service symbols set ... --trades --candles)"
            )
        return [_coverage(c) for c in found]

    def close(self) -> None:
        """Close the store's pooled connections (a later call opens it again)."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def _rows(self, action: str, read: Callable[[HistoryStore], Iterator[Any]]) -> Iterator[Any]:
        self.check()  # at the call, not at the first row: the mistake shows where it is made
        return self._stream(action, read)

    def _stream(self, action: str, read: Callable[[HistoryStore], Iterator[Any]]) -> Iterator[Any]:
        with self._translated(action):
            yield from read(self._open())

    def _open(self) -> HistoryStore:
        with self._lock:
            if self._store is None:
                self._store = _open_store(self.database_url or "")
            return self._store

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except DatabaseError as exc:
            raise HistoryUnavailable(f"{action}: {exc}") from exc
        except ValidationError as exc:
            raise InvalidArgument(f"{action}: {exc}") from exc
        except ImportError as exc:  # a database driver (psycopg2) not installed
            where = redact_url(self.database_url or "")
            raise HistoryNotConfigured(f"{action} on {where}: {exc}") from exc


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: blocked (None in sys.modules)
        return False


def _open_store(database_url: str) -> HistoryStore:
    """A store on a database at the head revision (the one ``ticker-service candles`` opens);
    DatabaseError says what to run otherwise."""
    from sqlalchemy.exc import ArgumentError

    from service.cli.history_output import open_store

    try:
        return open_store(database_url)
    except ArgumentError as exc:  # not a URL SQLAlchemy can use
        raise HistoryNotConfigured(f"database URL {redact_url(database_url)!r}: {exc}") from exc


def _wanted(since_ms: int, start_ms: int | None, end_ms: int) -> Range:
    """The range a coverage is read over: from ``start_ms`` (else the row's since) to ``end_ms``."""
    return Range(min(since_ms if start_ms is None else start_ms, end_ms), end_ms)


def _coverage(c: records.Coverage) -> Coverage:
    from service.history.summary import summarize

    return Coverage(
        exchange=c.key.exchange,
        symbol=c.key.symbol,
        stream=c.key.stream,
        timeframe=None if c.key.timeframe is None else str(c.key.timeframe),
        since_ms=c.wanted.start_ms,
        until_ms=c.wanted.end_ms,
        complete=tuple(TimeRange(r.start_ms, r.end_ms) for r in c.complete),
        gaps=tuple(HistoryGap(g.range.start_ms, g.range.end_ms, g.reason, g.error) for g in c.gaps),
        complete_until_ms=summarize(c).complete_until_ms,
        newest_ms=c.newest_ms,
    )
