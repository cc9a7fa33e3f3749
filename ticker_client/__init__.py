"""ticker_client: read the ticker-service's prices, live feed and health from Redis,
and its market history (1m candles, public trades) from its database.

The service streams exchange tickers into Redis; this package is the reader's
side. It imports redis-py, never the service's Dramatiq, APScheduler,
SQLAlchemy or ccxt, and reads the same key formats as the writers
(``service.keys.Keys``, one module for both).

Quick start (async; the service's Redis, default key prefix ``ticker``)::

    import asyncio
    from ticker_client import Gap, NotFound, TickerClient

    async def main() -> None:
        async with TickerClient("redis://127.0.0.1:6379/0") as client:
            print(await client.exchanges())                 # ['binance', 'okx']
            tick = await client.get("binance", "BTC/USDT")  # one HGET, a typed Tick
            print(tick.last, tick.bid, tick.ask, tick.received_at_utc, tick.stale)
            best = await client.price("BTC/USDT", prefer=["okx", "binance"])
            print(best.exchange, best.last)
            board = await client.board("okx")               # {symbol: Tick}
            health = await client.health()                  # what `ticker-service status` shows
            print(health.healthy, [(job.job_key, job.state) for job in health.jobs])
            async with client.subscribe(symbols=["BTC/USDT"]) as feed:
                async for event in feed:                    # Tick, or Gap after a reconnect
                    print(event)
                    break

    asyncio.run(main())

Blocking code uses the twin, same calls::

    from ticker_client import SyncTickerClient
    with SyncTickerClient.from_env() as client:             # REDIS_URL, TICKER_KEY_PREFIX...
        print(client.price("BTC/USDT").last)

What you get:

- ``Tick``: the README's tick fields (``exchange``, ``symbol``, ``timestamp``,
  ``bid``, ``ask``, ``last``... ``received_at``; None where the exchange gives
  none), instants as UTC epoch ms with ``timestamp_utc``/``received_at_utc``
  datetimes beside them, and ``stale`` (received longer than ``stale_after_s``
  ago, 30 s by default like the service's ``STALE_AFTER_S``).
- ``TickerClient.get/board/price/exchanges``: the latest ticks;
  ``price`` takes the first fresh tick in your ``prefer`` order (then the
  other exchanges by name), or the freshest stale one, flagged.
- ``TickerClient.subscribe``: every tick as written (pub/sub); after a dropped
  connection it yields a ``Gap``, then the stored ticks newer than the last it
  saw, so nothing is missed without you knowing. ``Subscription.run(fn)`` calls
  your function for each tick.
- ``TickerClient.health``: ``Health`` with ``jobs`` (``JobHealth``), ``workers``
  (``WorkerHealth``) and ``beat`` (``BeatHealth``), derived by the service's
  own rules.
- Errors: ``ClientError`` and below it ``NotFound``, ``ConnectionLost``,
  ``BadData``, ``InvalidArgument``, ``HistoryUnavailable`` (and below it
  ``HistoryNotConfigured``).

Market history (candles and trades the service backfilled into its database)::

    from datetime import UTC, datetime, timedelta

    async with TickerClient.from_env() as client:           # DATABASE_URL too
        for stream in await client.coverage("binance", "BTC/USDT"):
            print(stream.stream, stream.gap_free, stream.complete_until_utc)
        start = datetime.now(UTC) - timedelta(hours=2)      # or UTC epoch ms
        async for candle in client.candles("binance", "BTC/USDT", start):
            print(candle.open_time_utc, candle.close, candle.volume)
        async with client.trades("binance", "BTC/USDT", start) as trades:
            async for trade in trades:                      # streamed in batches
                print(trade.id, trade.timestamp_utc, trade.price, trade.side)

- ``TickerClient.candles/trades``: ``Candle`` (``open_time``, ``open``,
  ``high``, ``low``, ``close``, ``volume``, ``closed``; ``open_time_utc``) and
  ``Trade`` (``id``, ``timestamp``, ``price``, ``amount``, ``side``;
  ``timestamp_utc``) over ``[start, end)``, given as aware datetimes or epoch
  ms. The async calls read the database in a thread and hand rows over in
  batches (a ``HistoryStream``; ``batches()`` for lists), the sync twin's are
  plain iterators; neither ever holds the whole range in memory.
- ``TickerClient.coverage``: per stream a ``Coverage`` (complete ranges,
  ``HistoryGap``s with their reason, ``complete_until_ms``, ``newest_ms``),
  what ``ticker-service coverage`` shows.
- The history calls are an optional part: they read the service's database
  through its repository (``service.history.store.HistoryStore``), so they
  need its URL (``database_url=...``, or ``DATABASE_URL`` for ``from_env``)
  and SQLAlchemy (a dependency of the ticker-service package; psycopg2 for
  Postgres), imported on the first history call, never by ``import
  ticker_client``. Without them they raise ``HistoryNotConfigured``; a
  database that cannot be read raises ``HistoryUnavailable``.
- Live candles from Redis (the latest candle, the last N closed ones) come
  with the service's live market history (issue 15); until then candles come
  from the database only, as backfilled.

``examples/`` has runnable scripts for everything above;
``python examples/run_all.py`` runs them against a private demo.
"""

from __future__ import annotations

from ticker_client.client import TickerClient
from ticker_client.errors import (
    BadData,
    ClientError,
    ConnectionLost,
    HistoryNotConfigured,
    HistoryUnavailable,
    InvalidArgument,
    NotFound,
)
from ticker_client.feed import Subscription
from ticker_client.health import (
    BeatHealth,
    Health,
    HealthState,
    JobHealth,
    PassHealth,
    WorkerHealth,
)
from ticker_client.history_records import Candle, Coverage, HistoryGap, TimeRange, Trade
from ticker_client.pump import HistoryStream
from ticker_client.records import Event, Gap, Tick, utc
from ticker_client.sync import SyncSubscription, SyncTickerClient

__all__ = [
    "BadData",
    "BeatHealth",
    "Candle",
    "ClientError",
    "ConnectionLost",
    "Coverage",
    "Event",
    "Gap",
    "Health",
    "HealthState",
    "HistoryGap",
    "HistoryNotConfigured",
    "HistoryStream",
    "HistoryUnavailable",
    "InvalidArgument",
    "JobHealth",
    "NotFound",
    "PassHealth",
    "Subscription",
    "SyncSubscription",
    "SyncTickerClient",
    "Tick",
    "TickerClient",
    "TimeRange",
    "Trade",
    "WorkerHealth",
    "utc",
]
