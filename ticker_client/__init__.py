"""ticker_client: read the ticker-service's prices, live feed and health from Redis.

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
  ``BadData``, ``InvalidArgument``.

Candles and trades are not here yet: they come once the service's market
history lands. ``examples/`` has runnable scripts for everything above;
``python examples/run_all.py`` runs them against a private demo.
"""

from __future__ import annotations

from ticker_client.client import TickerClient
from ticker_client.errors import BadData, ClientError, ConnectionLost, InvalidArgument, NotFound
from ticker_client.feed import Subscription
from ticker_client.health import (
    BeatHealth,
    Health,
    HealthState,
    JobHealth,
    PassHealth,
    WorkerHealth,
)
from ticker_client.records import Event, Gap, Tick, utc
from ticker_client.sync import SyncSubscription, SyncTickerClient

__all__ = [
    "BadData",
    "BeatHealth",
    "ClientError",
    "ConnectionLost",
    "Event",
    "Gap",
    "Health",
    "HealthState",
    "InvalidArgument",
    "JobHealth",
    "NotFound",
    "PassHealth",
    "Subscription",
    "SyncSubscription",
    "SyncTickerClient",
    "Tick",
    "TickerClient",
    "WorkerHealth",
    "utc",
]
