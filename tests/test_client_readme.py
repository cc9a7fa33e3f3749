"""The README's client example runs as written against a real Redis with ticks flowing."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from service.db import migrate, repo
from service.db.session import migrated_session
from service.history.records import MINUTE_MS, Candle, Range, Trade
from service.history.store import HistoryStore
from service.keys import Keys
from tests.client_helpers import tick, write
from tests.history_keys import CANDLES, TRADES
from workers.clock import now_ms

HOUR_MS = 60 * MINUTE_MS
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_client_example(index: int = 0) -> str:
    """The ``index``-th python example of "Reading prices" (0: prices, 1: history)."""
    section = README.split("### Reading prices", 1)[1].split("\n### ", 1)[0]
    found = re.findall(r"```python\n(.+?)```", section, re.S)
    assert len(found) > index, "Reading prices has its python examples"
    return str(found[index])


def test_the_readme_client_example_reads_prices_and_a_live_tick(
    redis_url: str, key_prefix: str, keys: Keys
) -> None:
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            batch = [tick(name, "BTC/USDT", 64000.0) for name in ("binance", "okx")]
            asyncio.run(write(redis_url, keys, *batch))
            stop.wait(0.05)

    asyncio.run(
        write(redis_url, keys, tick("binance", "BTC/USDT", 1.0), tick("okx", "BTC/USDT", 1.0))
    )
    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        env = {**os.environ, "REDIS_URL": redis_url, "TICKER_KEY_PREFIX": key_prefix}
        result = subprocess.run(
            [sys.executable, "-c", readme_client_example()],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop.set()
        thread.join(5)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "['binance', 'okx']"
    assert lines[2].startswith("okx 64000.0")  # price() with okx preferred
    assert lines[-1].startswith("Tick(exchange=")  # one live tick from subscribe()


def test_the_readme_history_example_reads_coverage_candles_and_trades(sqlite_url: str) -> None:
    now = now_ms()
    start = now - now % MINUTE_MS - 2 * HOUR_MS
    migrate.upgrade(sqlite_url)
    with migrated_session(sqlite_url) as session:
        repo.add_exchange(session, "binance", "binance")
        choice = repo.HistoryChoice(trades=True, candles=True, since_ms=start)
        repo.add_symbols(session, "binance", ["BTC/USDT"], history=choice)
    store = HistoryStore(sqlite_url)
    stored = Range(start, start + 20 * MINUTE_MS)
    trades = [Trade(str(i), start + i * 1_000, 100.0 + i, 0.1, "buy") for i in range(1_200)]
    candles = [Candle(start + m * MINUTE_MS, 1.0, 2.0, 0.5, 1.5, 3.0) for m in range(20)]
    store.write_page(TRADES, trades, stored)
    store.write_page(CANDLES, candles, stored)
    store.close()
    last_minute = datetime.fromtimestamp((stored.end_ms - MINUTE_MS) / 1000, UTC)

    env = {**os.environ, "DATABASE_URL": sqlite_url}
    result = subprocess.run(
        [sys.executable, "-c", readme_client_example(1)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("candles False ") and lines[1].startswith("trades False ")
    candle_lines = [line for line in lines[2:] if line.endswith(" 1.0 2.0 0.5 1.5")]
    trade_lines = [line for line in lines[2:] if line.split()[0].isdigit()]
    # The example's start is "two hours ago" at its own clock, a moment after ours: the
    # candles opening after it, up to the last stored minute, and five minutes of trades.
    assert 18 <= len(candle_lines) <= 20
    assert candle_lines[-1].startswith(f"{last_minute} ")
    assert len(trade_lines) == 300 and len(lines) == 2 + len(candle_lines) + 300
