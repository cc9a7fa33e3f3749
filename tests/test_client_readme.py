"""The README's client example runs as written against a real Redis with ticks flowing."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from service.keys import Keys
from tests.client_helpers import tick, write

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def readme_client_example() -> str:
    section = README.split("### Reading prices", 1)[1]
    found = re.search(r"```python\n(.+?)```", section, re.S)
    assert found is not None, "Reading prices has a python example"
    return found.group(1)


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
