"""Run the benchmarks: ``python -m bench.run [NAME...|all] [--quick|--tiny]``.

Names: throughput, sustained, latency, recovery, memory, beat, client, history.

``--quick`` shortens every benchmark (fewer rounds, shorter windows, 100k/300k
ticks for memory); ``--tiny`` is the seconds-long mode of the smoke test. Each
benchmark prints a Markdown table and writes ``bench/results/<name>.json``
with the machine, the command, the raw rounds, the summary and the goals.
Everything runs on 127.0.0.1 under a fresh Redis key prefix (deleted after).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import beat, client, history, latency, memory, recovery, throughput
from bench.common import (
    DEFAULT_REDIS_URL,
    command_line,
    log_dir,
    machine,
    redis_space,
    write_results,
)

Benchmark = Callable[..., dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {
    "throughput": throughput.run,
    "sustained": throughput.run_sustained,
    "latency": latency.run,
    "recovery": recovery.run,
    "memory": memory.run,
    "beat": beat.run,
    "client": client.run,
    "history": history.run,
}


def run_one(name: str, mode: str, redis_url: str, results_dir: Path | None) -> dict[str, Any]:
    """Run one benchmark, write its JSON and return it (``error`` set when it failed)."""
    payload: dict[str, Any] = {
        "name": name,
        "mode": mode,
        "command": command_line(),
        "machine": machine(redis_url),
        "redis": f"{redis_url} (shared server, own key prefix)",
    }
    started = time.monotonic()
    print(f"== {name} ({mode})", flush=True)
    try:
        with redis_space(redis_url, name) as space, log_dir() as logs:
            payload.update(BENCHMARKS[name](space, mode, logs))
    except Exception as exc:
        payload["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    payload["elapsed_s"] = round(time.monotonic() - started, 1)
    path = write_results(name, payload, results_dir)
    print(payload.get("table", payload.get("error", "")))
    for item in payload.get("goals", []):
        print(
            f"  goal {item['goal']}: {item['value']:.4g} vs {item['limit']} -> "
            f"{'met' if item['met'] else 'NOT met'}"
        )
    print(f"-> {path} ({payload['elapsed_s']} s)\n", flush=True)
    return payload


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("which", nargs="*", default=["all"], choices=[*BENCHMARKS, "all"])
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--quick", action="store_true", help="shorter runs")
    speed.add_argument("--tiny", action="store_true", help="seconds-long smoke mode")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    parser.add_argument("--results-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    names = list(BENCHMARKS) if "all" in args.which else list(dict.fromkeys(args.which))
    failed = [n for n in names if "error" in run_one(n, mode, args.redis_url, args.results_dir)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
