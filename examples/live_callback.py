"""Your own function, called for every tick of the symbols you choose.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/live_callback.py [SECONDS]

Subscribes to the live feed (Redis pub/sub) for two symbols of the first
exchange and calls ``on_tick`` for each of their ticks for a few seconds
(``on_gap`` if the connection dropped: the missed ticks follow it). Exits 1
unless both symbols ticked, no other symbol reached the callback, and every
tick reached it within a second of the exchange sending it (its ``timestamp``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import Counter

from ticker_client import Gap, Tick, TickerClient

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
seen: Counter[str] = Counter()
delays_ms: list[float] = []


def on_tick(tick: Tick) -> None:
    """Called for every tick of the chosen symbols: put your strategy here."""
    seen[tick.symbol] += 1
    if tick.timestamp is not None:  # the exchange's send time (the simulator's clock: ours)
        delays_ms.append(time.time() * 1000 - tick.timestamp)
    print(f"{tick.received_at_utc:%H:%M:%S.%f} {tick.exchange} {tick.symbol} last {tick.last}")


def on_gap(gap: Gap) -> None:
    print(f"gap of {gap.duration_s:.1f} s ({gap.reason}); the missed ticks follow")


async def main() -> None:
    async with TickerClient.from_env() as client:
        exchange = (await client.exchanges())[0]
        chosen = list(await client.board(exchange))[:2]
        print(f"calling on_tick for {chosen} on {exchange} for {SECONDS:g} s")
        async with client.subscribe(exchanges=[exchange], symbols=chosen) as feed:
            with contextlib.suppress(TimeoutError):  # we asked for a few seconds only
                await asyncio.wait_for(feed.run(on_tick, on_gap), SECONDS)
    print(f"ticks per symbol: {dict(seen)}")
    if set(seen) != set(chosen):
        sys.exit(f"NOT TRUE: on_tick was called for exactly {chosen}")
    worst = max(delays_ms, default=float("inf"))
    print(f"exchange send -> on_tick: worst {worst:.1f} ms over {len(delays_ms)} ticks")
    if worst > 1000:
        sys.exit("NOT TRUE: every tick reached on_tick within a second of the exchange sending it")
    print("live_callback: your function saw every chosen symbol tick")


if __name__ == "__main__":
    asyncio.run(main())
