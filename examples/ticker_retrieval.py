"""Every read the client offers, against a running service: prints what it reads.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/ticker_retrieval.py

Reads the exchanges, one exchange's board, one tick, the best price with an
exchange preference, a pair nobody stores (NotFound), the health of jobs,
workers and the beat, and the same tick through the blocking twin. Exits 1
when what it shows is not true (no exchange, a stale price, an unhealthy service...).
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC

from ticker_client import NotFound, SyncTickerClient, TickerClient


def check(ok: bool, what: str) -> None:
    if not ok:
        print(f"NOT TRUE: {what}")
        sys.exit(1)


async def main() -> None:
    async with TickerClient.from_env() as client:  # REDIS_URL, TICKER_KEY_PREFIX...
        exchanges = await client.exchanges()
        print("exchanges:", exchanges)
        check(len(exchanges) >= 2, "the service stores ticks of at least two exchanges")
        first, second = exchanges[0], exchanges[1]

        board = await client.board(first)
        print(f"\nboard of {first}: {len(board)} symbols")
        for symbol, tick in board.items():
            print(f"  {symbol:<10} last {tick.last:<12} bid {tick.bid!s:<12} stale {tick.stale}")
        check(all(tick.exchange == first for tick in board.values()), "a board holds its own")

        symbol = next(iter(board))
        tick = await client.get(first, symbol)
        print(f"\nget({first!r}, {symbol!r}): last {tick.last}, received {tick.received_at_utc}")
        check(tick.symbol == symbol and tick.received_at_utc.tzinfo is UTC, "a typed UTC tick")
        check(not tick.stale, f"{symbol} on {first} is fresh")

        best = await client.price(symbol, prefer=[second, first])
        print(f"price({symbol!r}, prefer=[{second!r}, {first!r}]): {best.exchange} {best.last}")
        check(best.exchange == second and not best.stale, f"{second} is preferred and fresh")

        try:
            await client.get(first, "NO/SUCH")
            check(False, "a pair nobody stores raises NotFound")
        except NotFound as exc:
            print(f"get({first!r}, 'NO/SUCH') -> NotFound: {exc}")

        health = await client.health()
        print(f"\nhealth at {health.at_utc:%H:%M:%S} UTC: healthy={health.healthy}")
        for job in health.jobs:
            print(f"  job {job.job_key:<14} {job.state:<6} {len(job.symbols)} symbols "
                  f"{job.ticks_per_s:.1f} ticks/s")  # fmt: skip
        for worker in health.workers:
            print(f"  worker {worker.worker_id} alive={worker.alive} jobs={list(worker.jobs)}")
        print(f"  beat problems: {list(health.beat.problems) or 'none'}")
        check(health.healthy, "every desired job is up")

    with SyncTickerClient.from_env() as blocking:  # the same calls, for code without asyncio
        again = blocking.get(first, symbol)
        print(f"\nSyncTickerClient.get: {again.exchange} {again.symbol} {again.last}")
        check(again.received_at >= tick.received_at, "the blocking twin reads the same store")
    print("\nticker_retrieval: every read works")


if __name__ == "__main__":
    asyncio.run(main())
