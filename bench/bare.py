"""The baseline: a bare ccxt.pro ``watch_tickers`` loop that stores nothing.

It subscribes exactly as the service's feed does (binance ``{'name': 'ticker'}``,
the same groups of ``WATCH_GROUP_SIZE`` symbols, one task per group) and counts
what the service's writer would write: each ticker object in
``exchange.tickers`` that changed since the last look. Every ``--report-every``
seconds it prints one JSON line ``{"t": <monotonic s>, "ticks": <total>}``
(CLOCK_MONOTONIC is shared by all processes, so the harness can line it up
with its own samples). Run by ``bench.throughput`` as its own process so its
CPU can be read from /proc like the worker's::

    python -m bench.bare --port 8901 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import ccxt.pro as ccxt_pro

from service.simulator import ccxt_params
from workers.exchange_client import DEFAULT_WATCH_PARAMS
from workers.feed import WATCH_GROUP_SIZE


class Counter:
    def __init__(self, exchange: Any) -> None:
        self.exchange = exchange
        self.ticks = 0
        self.latencies_ms: list[float] | None = None  # set to a list to record
        self._seen: dict[str, Any] = {}

    def look(self, group: list[str]) -> None:
        tickers, seen = self.exchange.tickers, self._seen
        now_ms = time.time() * 1000
        for symbol in group:
            ticker = tickers.get(symbol)
            if ticker is not None and ticker is not seen.get(symbol):
                seen[symbol] = ticker
                self.ticks += 1
                if self.latencies_ms is not None and ticker.get("timestamp"):
                    # what the service's writer would stamp as received_at, without a write
                    self.latencies_ms.append(now_ms - ticker["timestamp"])


async def _read(exchange: Any, group: list[str], counter: Counter) -> None:
    params = DEFAULT_WATCH_PARAMS["binance"]
    while True:
        await exchange.watch_tickers(group, params)
        counter.look(group)


def _line(counter: Counter) -> dict[str, Any]:
    return {"t": time.monotonic(), "ticks": counter.ticks, "cpu_s": time.process_time()}


async def _record_after(counter: Counter, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    counter.latencies_ms = []


async def _report(counter: Counter, every_s: float) -> None:
    while True:
        print(json.dumps(_line(counter)), flush=True)
        await asyncio.sleep(every_s)


async def run(port: int, seconds: float, report_every_s: float, latency_from_s: float) -> None:
    # The same constructor config as the service's make_exchange.
    exchange = ccxt_pro.binance(
        {"enableRateLimit": True, **ccxt_params("binance", "127.0.0.1", port)}
    )
    try:
        await exchange.load_markets()
        symbols = sorted(exchange.markets)
        counter = Counter(exchange)
        groups = [
            symbols[i : i + WATCH_GROUP_SIZE] for i in range(0, len(symbols), WATCH_GROUP_SIZE)
        ]
        tasks = [asyncio.ensure_future(_read(exchange, g, counter)) for g in groups]
        tasks.append(asyncio.ensure_future(_report(counter, report_every_s)))
        if latency_from_s >= 0:
            tasks.append(asyncio.ensure_future(_record_after(counter, latency_from_s)))
        done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # a reader's error ends the run loudly
        if counter.latencies_ms is not None:
            print(json.dumps({**_line(counter), "latencies_ms": counter.latencies_ms}), flush=True)
    finally:
        await exchange.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--report-every", type=float, default=0.5)
    parser.add_argument("--latency-from", type=float, default=-1.0,
                        help="record latencies after S seconds, print them at the end")  # fmt: skip
    args = parser.parse_args(argv)
    asyncio.run(run(args.port, args.seconds, args.report_every, args.latency_from))
    return 0


if __name__ == "__main__":
    sys.exit(main())
