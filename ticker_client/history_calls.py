"""The client's history calls: candles, trades and coverage, read from the database.

A part of ``TickerClient`` of its own (the tick, feed and health calls read
Redis; these read the service's database through its repository, in threads).
"""

from __future__ import annotations

import asyncio

from ticker_client.arguments import check_batch_rows, check_names, history_args, optional_window
from ticker_client.history import HistoryReader
from ticker_client.history_records import Candle, Coverage, Instant, Trade
from ticker_client.pump import BATCH_ROWS, HistoryStream


class HistoryCalls:
    """``candles``, ``trades`` and ``coverage`` of ``TickerClient`` (on its ``history`` reader)."""

    history: HistoryReader

    def candles(
        self,
        exchange: str,
        symbol: str,
        start: Instant | None = None,
        end: Instant | None = None,
        *,
        batch_rows: int = BATCH_ROWS,
    ) -> HistoryStream[Candle]:
        """The stored 1m candles of ``symbol`` on ``exchange`` opening in ``[start, end)``.

        ``start``/``end`` are timezone-aware datetimes or UTC epoch ms (default:
        the first stored candle, now). An async iterator of ``Candle``, oldest
        first, read from the database in a thread in batches of ``batch_rows``
        (the event loop never waits on it; a month of candles never sits in
        memory). Raises HistoryNotConfigured at once without a database URL,
        InvalidArgument for a bad time; HistoryUnavailable while iterating when
        the database cannot be read. Minutes without trades have no candle;
        ``coverage`` says which ranges are complete.

        Example::

            start = datetime(2026, 11, 1, tzinfo=UTC)
            end = start + timedelta(hours=1)
            async for candle in client.candles("binance", "BTC/USDT", start, end):
                print(candle.open_time_utc, candle.close, candle.volume)
        """
        args = history_args(exchange, symbol, start, end)
        check_batch_rows(batch_rows)
        self.history.check()
        return HistoryStream(lambda: self.history.candles(*args), batch_rows=batch_rows)

    def trades(
        self,
        exchange: str,
        symbol: str,
        start: Instant | None = None,
        end: Instant | None = None,
        *,
        batch_rows: int = BATCH_ROWS,
    ) -> HistoryStream[Trade]:
        """The stored public trades of ``symbol`` on ``exchange`` in ``[start, end)``.

        As ``candles``: an async iterator of ``Trade`` (by time, then id), streamed
        from the database in a thread; the same arguments and errors.

        Example::

            async with client.trades("binance", "BTC/USDT", start_ms, end_ms) as trades:
                async for trade in trades:
                    print(trade.id, trade.timestamp_utc, trade.price, trade.amount, trade.side)
        """
        args = history_args(exchange, symbol, start, end)
        check_batch_rows(batch_rows)
        self.history.check()
        return HistoryStream(lambda: self.history.trades(*args), batch_rows=batch_rows)

    async def coverage(
        self, exchange: str, symbol: str, start: Instant | None = None, end: Instant | None = None
    ) -> list[Coverage]:
        """What the database holds complete of each stream the symbol collects (trades, candles).

        One ``Coverage`` per stream (candles, then trades), what
        ``ticker-service coverage EXCHANGE SYMBOL`` prints: over the row's
        ``history_since`` up to the start of the current minute unless
        ``start``/``end`` say otherwise. Raises NotFound when the
        symbol collects no history, HistoryNotConfigured without a database URL,
        HistoryUnavailable when the database cannot be read.

        Example::

            streams = await client.coverage("binance", "BTC/USDT")
            if all(stream.gap_free for stream in streams):
                print("complete up to", min(s.complete_until_utc for s in streams))
        """
        check_names(exchange=exchange, symbol=symbol)
        start_ms, end_ms = optional_window(start, end)
        self.history.check()
        return await asyncio.to_thread(self.history.coverage, exchange, symbol, start_ms, end_ms)
