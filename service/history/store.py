"""``HistoryStore``: the one way into the candles, trades and coverage ledger tables.

Nothing else writes SQL for history. A page of rows and the ledger range it
covers are written in one transaction (``write_page``), so the ledger never
claims rows that are not there, and a killed writer loses at most its page.
Reads stream (``iter_candles``, ``iter_trades``): a server-side cursor on
Postgres, ``yield_per`` batches, so a month of trades never sits in memory.
Errors of the database or its driver leave as ``DatabaseError``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import SQLAlchemyError

from service.db.engine import make_engine
from service.db.models import CandleRow, TradeRow
from service.db.translate import database_error
from service.errors import DatabaseError, ValidationError
from service.history import bulk, ledger_rows
from service.history.ledger import COMPLETE, Entry, coverage_of
from service.history.partitions import Partitions, months_needed
from service.history.records import (
    Candle,
    CandleSource,
    Coverage,
    Gap,
    Range,
    Stream,
    StreamKey,
    Trade,
)
from service.redaction import redact_url
from workers.clock import now_ms

READ_BATCH_ROWS = 2_000
DAY_MS = 24 * 60 * 60 * 1000
CANDLES = CandleRow.__table__
TRADES = TradeRow.__table__


class HistoryStore:
    """Candles, trades and their coverage in one database (SQLite or Postgres)."""

    def __init__(self, database_url: str, *, clock: Callable[[], int] = now_ms) -> None:
        self.engine = make_engine(database_url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self.partitions = Partitions(self.engine) if self.postgres else None
        self._clock = clock

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    # -- writing -----------------------------------------------------------------------

    def write_page(
        self,
        key: StreamKey,
        rows: Sequence[Candle] | Sequence[Trade],
        covered: Range,
        *,
        source: CandleSource = CandleSource.REST,
    ) -> int:
        """Rows and the ledger in ONE transaction; returns how many rows were new.

        Rows are written idempotently (a closed candle is final; an open one
        takes newer values), and ``covered`` is marked complete (an empty page
        over a range is complete and empty). Raises DatabaseError, and
        ValidationError when the rows do not fit the stream.
        """
        _check_rows(key, rows)
        if self.partitions is not None and key.stream == Stream.TRADES and rows:
            times = (trade.timestamp for trade in rows if isinstance(trade, Trade))
            with self._errors(f"creating trades partitions for {key}"):
                self.partitions.ensure(months_needed(times, self._clock()))
        try:
            with self._transaction(f"writing a page of {key}") as connection:
                inserted = self._write_rows(connection, key, rows, source)
                if not covered.empty:
                    ledger_rows.put(connection, key, Entry(covered, COMPLETE))
        except DatabaseError:
            if self.partitions is not None:
                self.partitions.known.clear()  # another process may have dropped one
            raise
        return inserted

    def _write_rows(
        self, connection: Connection, key: StreamKey, rows: Sequence[Any], source: CandleSource
    ) -> int:
        if key.stream == Stream.TRADES:
            return bulk.write_trades(connection, key, rows)
        return bulk.write_candles(connection, key, rows, source)

    def record_gap(self, key: StreamKey, gap: Gap) -> None:
        """Mark ``gap.range`` not complete, with its reason and error; complete parts stay."""
        if gap.range.empty:
            return
        with self._transaction(f"recording a gap of {key}") as connection:
            ledger_rows.put(connection, key, Entry(gap.range, str(gap.reason), gap.error))

    # -- the ledger ----------------------------------------------------------------------

    def coverage(self, key: StreamKey, wanted: Range) -> Coverage:
        """Complete ranges and gaps over ``wanted`` (never fetched: NOT_FETCHED), newest row."""
        with self._transaction(f"reading the coverage of {key}") as connection:
            entries = list(ledger_rows.entries(connection, key, wanted))
            newest = connection.execute(self._newest_query(key)).scalar()
        return coverage_of(key, wanted, entries, None if newest is None else int(newest))

    def newest_trade_id(self, key: StreamKey) -> str | None:
        """The id of the newest stored trade of ``key`` (where a ``fromId`` chain goes on)."""
        query = (
            select(TRADES.c.trade_id)
            .where(*_trade_filter(key))
            .order_by(
                TRADES.c.time.desc(),
                func.length(TRADES.c.trade_id).desc(),
                TRADES.c.trade_id.desc(),
            )
            .limit(1)
        )
        with self._transaction(f"reading the newest trade of {key}") as connection:
            found = connection.execute(query).scalar()
        return None if found is None else str(found)

    def _newest_query(self, key: StreamKey) -> Any:
        if key.stream == Stream.TRADES:
            return select(func.max(TRADES.c.time)).where(*_trade_filter(key))
        return select(func.max(CANDLES.c.open_time)).where(*_candle_filter(key))

    # -- reading -------------------------------------------------------------------------

    def iter_candles(self, key: StreamKey, window: Range) -> Iterator[Candle]:
        """The stored candles of ``key`` opening in ``window``, oldest first, streamed."""
        query = (
            select(*(CANDLES.c[name] for name in ("open_time", "open", "high", "low", "close")))
            .add_columns(CANDLES.c.volume, CANDLES.c.closed)
            .where(*_candle_filter(key), CANDLES.c.open_time >= window.start_ms)
            .where(CANDLES.c.open_time < window.end_ms)
            .order_by(CANDLES.c.open_time)
        )
        for row in self._stream(query, f"reading candles of {key}"):
            yield Candle(int(row[0]), row[1], row[2], row[3], row[4], row[5], bool(row[6]))

    def iter_trades(self, key: StreamKey, window: Range) -> Iterator[Trade]:
        """The stored trades of ``key`` in ``window``, by time then id, streamed."""
        columns = (TRADES.c.trade_id, TRADES.c.time, TRADES.c.price, TRADES.c.amount, TRADES.c.side)
        query = (
            select(*columns)
            .where(*_trade_filter(key), TRADES.c.time >= window.start_ms)
            .where(TRADES.c.time < window.end_ms)
            .order_by(TRADES.c.time, func.length(TRADES.c.trade_id), TRADES.c.trade_id)
        )
        for row in self._stream(query, f"reading trades of {key}"):
            yield Trade(str(row[0]), int(row[1]), row[2], row[3], row[4])

    def _stream(self, query: Any, action: str) -> Iterator[Any]:
        # yield_per: a named (server-side) cursor on psycopg2, batches of rows on SQLite.
        with self._transaction(action) as connection:
            result = connection.execution_options(yield_per=READ_BATCH_ROWS).execute(query)
            yield from result

    # -- retention -----------------------------------------------------------------------

    def drop_partitions_before(self, cutoff_ms: int) -> list[str]:
        """Drop the trades partitions whose whole month ends by ``cutoff_ms``; their names.

        The ledger forgets the dropped months. Postgres only: on SQLite (no
        partitions) nothing is dropped and the answer is [].
        """
        if self.partitions is None:
            return []
        with self._errors("dropping trades partitions"):
            dropped = self.partitions.drop_before(cutoff_ms)
        if dropped:
            boundary = max(month.end_ms for month in dropped)
            with self._transaction("trimming the ledger after retention") as connection:
                ledger_rows.forget_trades_before(connection, boundary)
        return [month.table for month in dropped]

    def apply_retention(self, retention_days: int | None, now: int) -> list[str]:
        """``HISTORY_RETENTION_DAYS`` applied at ``now`` (epoch ms): the partitions dropped.

        None keeps everything. Only whole months older than the cutoff go, so up
        to a month more than asked is kept.
        """
        if retention_days is None:
            return []
        return self.drop_partitions_before(now - retention_days * DAY_MS)

    # -- plumbing ------------------------------------------------------------------------

    @property
    def _url(self) -> str:
        return self.engine.url.render_as_string()

    @contextmanager
    def _transaction(self, action: str) -> Iterator[Connection]:
        """One transaction; SQLAlchemy and raw driver errors leave as DatabaseError."""
        with self._errors(action), self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        dbapi_error = self.engine.dialect.loaded_dbapi.Error
        try:
            yield
        except SQLAlchemyError as exc:
            raise database_error(exc, self._url, action) from exc
        except dbapi_error as exc:  # the bulk path talks to the driver's cursor directly
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise DatabaseError(f"{action} failed on {redact_url(self._url)}: {first}") from exc


def _candle_filter(key: StreamKey) -> tuple[Any, ...]:
    return (
        CANDLES.c.exchange == key.exchange,
        CANDLES.c.symbol == key.symbol,
        CANDLES.c.timeframe == str(key.timeframe or ""),
    )


def _trade_filter(key: StreamKey) -> tuple[Any, ...]:
    return (TRADES.c.exchange == key.exchange, TRADES.c.symbol == key.symbol)


def _check_rows(key: StreamKey, rows: Sequence[Any]) -> None:
    expected: type = Trade if key.stream == Stream.TRADES else Candle
    if key.stream == Stream.CANDLES and key.timeframe is None:
        raise ValidationError(f"{key}: a candles stream needs a timeframe")
    wrong = next((row for row in rows if not isinstance(row, expected)), None)
    if wrong is not None:
        raise ValidationError(
            f"{key}: expected {expected.__name__} rows, got {type(wrong).__name__}"
        )
