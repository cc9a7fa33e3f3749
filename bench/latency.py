"""Latency: simulator send time to visible in Redis, at about 1,000 ticks/s.

200 symbols at 5 events/s each. A real worker process streams them; this
process subscribes to the job's pub/sub channel and, for every tick of every
published batch, takes:

- ``visible``: arrival time of the batch here minus the tick's ``timestamp``
  (the simulator's send time, ms): the whole path, Redis included;
- ``received``: the tick's ``received_at`` minus ``timestamp``: the service's
  side only (socket, ccxt parse, until the writer stamps the batch).

The baseline, in alternating rounds on the same simulator: ``bench.bare``
(the same subscriptions, no writes) records ``seen``: the time its loop saw the
changed ticker minus ``timestamp``, i.e. what ccxt alone costs. Both clocks are
this machine's wall clock; ``timestamp`` has 1 ms resolution.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.common import (
    JOB_KEY,
    RedisSpace,
    cpu_seconds,
    goal,
    job_simulator,
    median,
    quantile,
    round_order,
    streaming_worker,
    table,
)
from bench.pubsub import ChannelListener
from bench.throughput import BareProcess


@dataclass(frozen=True)
class Plan:
    symbols: int
    rate: float
    warmup_s: float
    window_s: float
    rounds: int = 1


PLANS = {
    "full": Plan(200, 5.0, warmup_s=5.0, window_s=15.0, rounds=3),
    "quick": Plan(200, 5.0, warmup_s=3.0, window_s=10.0, rounds=1),
    "tiny": Plan(20, 5.0, warmup_s=0.5, window_s=2.0, rounds=1),
}


class Listener(ChannelListener):
    """Collects (visible, received) latencies of every tick published in a window."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.visible: list[float] = []
        self.received: list[float] = []
        self.recording = False
        super().__init__(client, channel)

    def on_message(self, data: bytes) -> None:
        arrived_ms = time.time() * 1000
        if not self.recording:
            return
        for tick in json.loads(data):
            if tick["timestamp"] is not None:
                self.visible.append(arrived_ms - tick["timestamp"])
                self.received.append(tick["received_at"] - tick["timestamp"])


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    plan = PLANS[mode]
    found: dict[str, list[float]] = {"visible": [], "received": [], "bare": []}
    cpu: dict[str, list[float]] = {"service": [], "bare": []}
    elapsed: dict[str, float] = {"service": 0.0, "bare": 0.0}
    with job_simulator(space, JOB_KEY, plan.symbols, rate=plan.rate) as sim:
        for index in range(plan.rounds):
            for client in round_order(index):
                if client == "service":
                    visible, received, pct = service_window(space, plan, logs)
                    found["visible"] += visible
                    found["received"] += received
                else:
                    seen, pct = bare_window(sim.port, plan)
                    found["bare"] += seen
                cpu[client].append(pct)
                elapsed[client] += plan.window_s
    rows = [
        _row("service: visible in Redis (pub/sub arrival)", found["visible"], elapsed["service"]),
        _row("service: received_at stamped by the writer", found["received"], elapsed["service"]),
        _row("bare ccxt loop: ticker seen (no writes)", found["bare"], elapsed["bare"]),
    ]
    return {
        "plan": plan.__dict__,
        "cpu_pct": {k: median(v) for k, v in cpu.items()},
        "summary": rows,
        "goals": [goal("p99 visible latency ms", rows[0]["p99_ms"], 10.0, at_least=False)],
        "table": render(rows, cpu),
    }


def service_window(
    space: RedisSpace, plan: Plan, logs: Path
) -> tuple[list[float], list[float], float]:
    """Latencies of one window of a real worker, and its CPU share in %."""
    listener = Listener(space.client, space.keys.tick_channel(JOB_KEY))
    try:
        with streaming_worker(space, JOB_KEY, logs) as worker:
            time.sleep(plan.warmup_s)
            cpu_before, started = cpu_seconds(worker.pid), time.monotonic()
            listener.recording = True
            time.sleep(plan.window_s)
            listener.recording = False
            pct = 100 * (cpu_seconds(worker.pid) - cpu_before) / (time.monotonic() - started)
    finally:
        listener.close()
    return listener.visible, listener.received, pct


def bare_window(port: int, plan: Plan) -> tuple[list[float], float]:
    """Latencies seen by the bare loop in one window, and its CPU share in %."""
    bare = BareProcess(port, plan.warmup_s + plan.window_s, f"--latency-from={plan.warmup_s}")
    try:
        bare.wait_ready()
        time.sleep(plan.warmup_s)
        first = dict(bare.latest)
        last = bare.wait(plan.window_s + 30)
    finally:
        bare.close()
    pct = 100 * (last["cpu_s"] - first["cpu_s"]) / (last["t"] - first["t"])
    return list(last.get("latencies_ms", [])), pct


def _row(what: str, values: list[float], elapsed_s: float) -> dict[str, Any]:
    ordered = sorted(values)
    return {
        "measure": what,
        "ticks": len(ordered),
        "ticks_per_s": len(ordered) / elapsed_s,
        "p50_ms": quantile(ordered, 0.50),
        "p90_ms": quantile(ordered, 0.90),
        "p99_ms": quantile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else float("nan"),
    }


def render(rows: list[dict[str, Any]], cpu: dict[str, list[float]]) -> str:
    headers = ("measure", "ticks", "ticks/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU %")
    shares = [median(cpu["service"]), median(cpu["service"]), median(cpu["bare"])]
    return table(
        headers,
        [
            (
                r["measure"],
                r["ticks"],
                r["ticks_per_s"],
                f"{r['p50_ms']:.1f}",
                f"{r['p90_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                f"{share:.0f}",
            )
            for r, share in zip(rows, shares, strict=True)
        ],
    )
