"""Run the whole service from Python: start, wait until healthy, add and remove a symbol, stop.

    python examples/service_control.py

Starts ``ticker-service dev --no-demo`` (an embedded Redis when none answers at
REDIS_URL, a fresh SQLite database in a temp dir, a worker, the beat, the web
process) and an exchange simulator, registers the simulated exchange with
three symbols, waits until the service is healthy, shows its status, adds a
fourth symbol and waits until it ticks, removes it, and stops everything.
It uses a key prefix and broker namespace of its own, so it never touches
another deployment in the same Redis. Exits 1 when a step does not happen.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis

from ticker_client import NotFound, TickerClient

# The ticker-service beside this interpreter (an inactive venv), else the one on PATH.
CLI = shutil.which(
    "ticker-service", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
)
EXCHANGE = "example-sim"
SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
ADDED = "BNB/USDT"  # the simulator serves four symbols; the fourth is added later


def fail(what: str) -> None:
    print(f"NOT TRUE: {what}")
    sys.exit(1)


class Started:
    """A child process whose output lines are kept (and echoed, prefixed)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.lines = name, list[str]()
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            print(f"  [{self.name}] {line.rstrip()}"[:160], flush=True)

    def wait_for_line(self, pattern: str, timeout_s: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            time.sleep(0.05)
        fail(f"{self.name} printed /{pattern}/ within {timeout_s:g} s")
        raise AssertionError  # not reached

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> None:
    print(f"$ ticker-service {' '.join(args)}", flush=True)
    done = subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=60)
    print("\n".join(f"  {line}" for line in (done.stdout + done.stderr).strip().splitlines()))
    if done.returncode != 0:
        fail(f"`ticker-service {' '.join(args)}` exits 0 (it exited {done.returncode})")


async def wait_until(check, what: str, timeout_s: float = 45.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    fail(f"{what} within {timeout_s:g} s")


async def control(env: dict[str, str], sim: Started) -> None:
    async with TickerClient(env["REDIS_URL"], prefix=env["TICKER_KEY_PREFIX"]) as client:
        ready = json.loads(sim.wait_for_line(r"^\{.*\"port\".*\}$", 20).group(0))
        cli(env, "exchanges", "add", EXCHANGE, "--ccxt-id", "binance",
            "--params", json.dumps(ready["ccxt_params"]))  # fmt: skip
        cli(env, "symbols", "add", EXCHANGE, *SYMBOLS)

        async def healthy():  # type: ignore[no-untyped-def]
            health = await client.health()
            return health if health.healthy else None

        health = await wait_until(healthy, "the service is healthy")
        print(f"healthy at {health.at_utc:%H:%M:%S} UTC:")
        for job in health.jobs:
            print(
                f"  {job.job_key}: {job.state}, {len(job.symbols)} symbols, worker {job.worker_id}"
            )
        cli(env, "status")

        cli(env, "symbols", "add", EXCHANGE, ADDED, "--wait", "--timeout", "30")
        tick = await client.get(EXCHANGE, ADDED)
        print(f"{ADDED} ticks: last {tick.last} received {tick.received_at_utc:%H:%M:%S.%f}")

        cli(env, "symbols", "remove", EXCHANGE, ADDED)

        async def gone() -> bool:
            try:
                await client.get(EXCHANGE, ADDED)
            except NotFound:
                return True
            return False

        await wait_until(gone, f"{ADDED} leaves the board after its removal")
        print(f"{ADDED} is off the board; the other symbols stream on:",
              sorted(await client.board(EXCHANGE)))  # fmt: skip


def forget(env: dict[str, str]) -> None:
    """Delete this run's keys from a Redis it shared (an embedded one is simply gone)."""
    client = redis.Redis.from_url(env["REDIS_URL"])
    for key in client.scan_iter(match=f"{env['TICKER_KEY_PREFIX']}:*", count=1000):
        client.delete(key)
    client.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ticker-example-") as folder:
        prefix = f"example-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder}/service.db",
               "TICKER_KEY_PREFIX": prefix, "DRAMATIQ_NAMESPACE": f"{prefix}:dramatiq"}  # fmt: skip
        sim = Started("sim", [str(CLI), "simulate", "--port", "0", "--symbols", "4"], env)
        service = Started(
            "dev", [str(CLI), "dev", "--no-demo", "--web-port", str(free_port())], env
        )
        try:
            embedded = service.wait_for_line(
                r"(embedded Redis answers at (\S+))|using the Redis", 30
            )
            env["REDIS_URL"] = embedded.group(2) or env.get("REDIS_URL", "redis://127.0.0.1:6379/0")
            service.wait_for_line(r"all processes started", 60)
            asyncio.run(control(env, sim))
        finally:
            code = service.stop()
            sim.stop()
            if not embedded.group(2):
                forget(env)
        if code != 0:
            fail(f"the service stops cleanly (exit code {code})")
    print("service_control: started, healthy, a symbol added and removed, stopped")


if __name__ == "__main__":
    main()
