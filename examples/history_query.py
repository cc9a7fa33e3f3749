"""Market history through the client: backfill two hours of one symbol, then read and check it.

    REDIS_URL=... DATABASE_URL=... python examples/history_query.py [EXCHANGE [SYMBOL]]

Against a running service whose EXCHANGE (default ``demo-binance``, the demo of
``run_all.py``) speaks Binance's protocol, it asks SYMBOL (default BTC/USDT) to
collect public trades and 1m candles from two hours back (``ticker-service
symbols set EXCHANGE SYMBOL --trades --candles --since T``), waits until the
client's ``coverage`` shows no gap, then reads the candles and trades through
the client, streamed, and checks what they show: the trade ids run on without
a hole (Binance's ids are sequential), every minute with trades has exactly
one closed candle and a minute without trades has none, and each candle's
open, high, low, close and volume are what its minute's trades imply.
Exits 1 when any of that is not true.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ticker_client import Candle, ClientError, Coverage, SyncTickerClient, TickerClient, Trade

CLI = shutil.which(
    "ticker-service", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
)
HISTORY = timedelta(hours=2)
BACKFILL_TIMEOUT_S = 90.0
MINUTE_MS = 60_000


def fail(what: str) -> None:
    print(f"NOT TRUE: {what}")
    sys.exit(1)


@dataclass
class Minute:
    """What one minute's trades imply for its candle."""

    open: float
    high: float
    low: float
    close: float
    volume: float
    trades: int = 1

    def add(self, trade: Trade) -> None:
        self.high, self.low = max(self.high, trade.price), min(self.low, trade.price)
        self.close = trade.price
        self.volume += trade.amount
        self.trades += 1


@dataclass
class TradeCheck:
    """Reads trades one at a time (never a list): ids without a hole, and each minute's OHLCV."""

    start_ms: int
    end_ms: int
    minutes: dict[int, Minute] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    count: int = 0
    first_id: int | None = None
    last_id: int | None = None

    def add(self, trade: Trade) -> None:
        self.count += 1
        trade_id = int(trade.id)
        if self.last_id is not None and trade_id != self.last_id + 1:
            self.problems.append(f"the trade ids jump from {self.last_id} to {trade_id}")
        if not self.start_ms <= trade.timestamp < self.end_ms:
            self.problems.append(f"trade {trade.id} at {trade.timestamp_utc} is outside the range")
        self.first_id = trade_id if self.first_id is None else self.first_id
        self.last_id = trade_id
        minute = trade.timestamp - trade.timestamp % MINUTE_MS
        if minute in self.minutes:
            self.minutes[minute].add(trade)
        else:
            self.minutes[minute] = Minute(trade.price, trade.price, trade.price, trade.price,
                                          trade.amount)  # fmt: skip


def candle_problems(candle: Candle, implied: Minute | None) -> list[str]:
    """What is wrong with ``candle`` given its minute's trades (None: the minute had none)."""
    when = f"the candle of {candle.open_time_utc:%H:%M}"
    if implied is None:
        return [f"{when} exists, but no trade happened in that minute"]
    problems = [] if candle.closed else [f"{when} is not closed"]
    expected = (implied.open, implied.high, implied.low, implied.close)
    if (candle.open, candle.high, candle.low, candle.close) != expected:
        shown = (candle.open, candle.high, candle.low, candle.close)
        problems.append(f"{when} has OHLC {shown}, its trades imply {expected}")
    if not math.isclose(candle.volume, implied.volume, rel_tol=1e-9):
        problems.append(f"{when} has volume {candle.volume}, its trades sum to {implied.volume}")
    return problems


def missing_candles(trades: TradeCheck, seen: set[int]) -> list[str]:
    return [
        f"no candle for {datetime.fromtimestamp(m / 1000, UTC):%H:%M}, a minute with trades"
        for m in sorted(set(trades.minutes) - seen)
    ]


def cli(*args: str) -> None:
    print(f"$ ticker-service {' '.join(args)}", flush=True)
    done = subprocess.run([str(CLI), *args], capture_output=True, text=True, timeout=60)
    print("\n".join(f"  {line}" for line in (done.stdout + done.stderr).strip().splitlines()))
    if done.returncode != 0:
        fail(f"`ticker-service {' '.join(args)}` exits 0 (it exited {done.returncode})")


async def backfilled(client: TickerClient, exchange: str, symbol: str) -> list[Coverage]:
    """Poll the client's coverage until neither stream has a gap; print the progress."""
    deadline, shown = time.monotonic() + BACKFILL_TIMEOUT_S, None
    while time.monotonic() < deadline:
        streams = await client.coverage(exchange, symbol)
        progress = ", ".join(f"{s.stream} {s.gap_minutes:g} gap min" for s in streams)
        if progress != shown:
            print(f"  coverage: {progress}", flush=True)
            shown = progress
        if len(streams) == 2 and all(s.gap_free for s in streams):
            return streams
        await asyncio.sleep(0.5)
    fail(f"the backfill of {symbol} on {exchange} leaves no gap within {BACKFILL_TIMEOUT_S:g} s")
    raise AssertionError  # not reached


async def main(exchange: str, symbol: str) -> None:
    since = datetime.now(UTC).replace(second=0, microsecond=0) - HISTORY
    async with TickerClient.from_env() as client:  # REDIS_URL, DATABASE_URL...
        cli("symbols", "set", exchange, symbol, "--trades", "--candles",
            "--since", f"{since:%Y-%m-%dT%H:%M:%SZ}")  # fmt: skip
        began = time.monotonic()
        streams = await backfilled(client, exchange, symbol)
        end_ms = min(s.complete_until_ms for s in streams)
        print(f"no gap after {time.monotonic() - began:.1f} s; complete up to "
              f"{streams[0].complete_until_utc:%H:%M} UTC")  # fmt: skip

        trades = TradeCheck(int(since.timestamp() * 1000), end_ms)
        async with client.trades(exchange, symbol, since, end_ms) as stream:
            async for trade in stream:
                trades.add(trade)
        seen: set[int] = set()
        problems = list(trades.problems)
        async for candle in client.candles(exchange, symbol, since, end_ms):
            seen.add(candle.open_time)
            problems += candle_problems(candle, trades.minutes.get(candle.open_time))
        problems += missing_candles(trades, seen)
    summarize(since, end_ms, trades, len(seen))
    for problem in problems[:10]:
        print(f"  {problem}")
    if problems:
        fail(f"the candles and trades agree ({len(problems)} problems, the first shown above)")
    blocking_read(exchange, symbol, (since, end_ms), len(seen))


def summarize(since: datetime, end_ms: int, trades: TradeCheck, candles: int) -> None:
    minutes = (end_ms - int(since.timestamp() * 1000)) // MINUTE_MS
    print(f"\n{since:%Y-%m-%d %H:%M} .. {datetime.fromtimestamp(end_ms / 1000, UTC):%H:%M} UTC, "
          f"{minutes} minutes:")  # fmt: skip
    print(f"  {trades.count} trades, ids {trades.first_id}..{trades.last_id}")
    print(f"  {candles} candles; {minutes - len(trades.minutes)} minutes without trades")
    if not trades.count or not candles:
        fail("two hours of history hold trades and candles")


def blocking_read(exchange: str, symbol: str, window: tuple[datetime, int], candles: int) -> None:
    """The sync twin reads the same rows, as a plain iterator (no event loop)."""
    with SyncTickerClient.from_env() as blocking:
        rows = blocking.candles(exchange, symbol, *window)
        first = next(rows, None)
        count = sum(1 for _ in rows) + (first is not None)
    if first is None or count != candles:
        fail(f"SyncTickerClient.candles reads the same {candles} candles (it read {count})")
    print(f"SyncTickerClient.candles: the same {count} candles, the first {first}")
    print("\nhistory_query: backfilled, no gap, every candle is what its trades imply")


if __name__ == "__main__":
    args = sys.argv[1:]
    exchange = args[0] if args else "demo-binance"
    symbol = args[1] if len(args) > 1 else "BTC/USDT"
    try:
        asyncio.run(main(exchange, symbol))
    except ClientError as exc:  # no DATABASE_URL, an unreadable database, no such symbol...
        fail(f"the history can be read ({type(exc).__name__}: {exc})")
