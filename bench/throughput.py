"""Throughput: ticks stored per second by one exchange job against a bare ccxt.pro loop.

For each symbol count, one simulator process at full rate (``--rate 0``) serves
both clients in alternating rounds (A/B, B/A, ...), each on its own:

- service: a real ``dramatiq service.workers`` process running the job; ticks
  counted from ``ticks_total`` of its heartbeats (every second), i.e. ticks the
  writer stored in Redis;
- bare: ``python -m bench.bare``, the same subscriptions, stores nothing.

Per round, after a warm-up, a fixed window: ticks/s, CPU seconds per 1,000 ticks
of the measured process (/proc/<pid>/stat), and the simulator's CPU share and
events_sent/s (a simulator near 100% of one core is the bottleneck).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    JOB_KEY,
    RedisSpace,
    cpu_seconds,
    goal,
    job_simulator,
    median,
    round_order,
    streaming_worker,
    table,
    wait_until,
)
from service.simulator.testing import SimulatorProcess, stop_child


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    rounds: int
    warmup_s: float
    window_s: float
    total_rate: float = 0.0  # events/s the simulator offers across all symbols; 0 = full rate


PLANS = {
    "full": Plan((10, 200, 1000), rounds=3, warmup_s=3.0, window_s=10.0),
    "quick": Plan((10, 200, 1000), rounds=2, warmup_s=2.0, window_s=5.0),
    "tiny": Plan((10,), rounds=1, warmup_s=0.5, window_s=1.5),
}
# Below saturation: can one job store every frame of a paced feed (no conflation)?
SUSTAINED_PLANS = {
    "full": Plan((200, 1000), rounds=3, warmup_s=3.0, window_s=10.0, total_rate=5000),
    "quick": Plan((200, 1000), rounds=2, warmup_s=2.0, window_s=5.0, total_rate=5000),
    "tiny": Plan((10,), rounds=1, warmup_s=0.5, window_s=1.5, total_rate=200),
}


@dataclass
class Mark:
    """One reading: the client's own tick count at its own time, and CPU counters now."""

    t: float
    ticks: int
    cpu_s: float
    sim_cpu_s: float
    sim_events: int
    wall: float = field(default_factory=time.monotonic)


def _window(client: str, size: int, a: Mark, b: Mark) -> dict[str, Any]:
    rate = (b.ticks - a.ticks) / (b.t - a.t) if b.t > a.t else 0.0
    wall = b.wall - a.wall
    ticks_in_window = rate * wall
    cpu = b.cpu_s - a.cpu_s
    sim_cpu = b.sim_cpu_s - a.sim_cpu_s
    frames = b.sim_events - a.sim_events
    return {
        "symbols": size,
        "client": client,
        "ticks_per_s": rate,
        "cpu_s_per_1k_ticks": cpu / ticks_in_window * 1000 if ticks_in_window else float("nan"),
        # per frame the simulator sent: the parse work, whatever conflation stored
        "cpu_s_per_1k_frames": cpu / frames * 1000 if frames else float("nan"),
        "client_cpu_pct": 100 * cpu / wall,
        "sim_cpu_pct": 100 * sim_cpu / wall,
        "sim_events_per_s": frames / wall,
        "window_s": wall,
    }


def _sim_marks(sim: SimulatorProcess) -> tuple[float, int]:
    assert sim.process is not None
    return cpu_seconds(sim.process.pid), int(sim.client.state()["events_sent"])


# -- the service ---------------------------------------------------------------------
def run_service(
    space: RedisSpace, sim: SimulatorProcess, size: int, plan: Plan, logs: Path
) -> dict[str, Any]:
    with streaming_worker(space, JOB_KEY, logs) as worker:
        time.sleep(plan.warmup_s)
        first = _service_mark(space, worker.pid, sim)
        time.sleep(plan.window_s)
        last = _service_mark(space, worker.pid, sim)
        # The count comes from heartbeats (one a second): a short window can read the
        # same one twice, so wait for a newer one rather than report 0 ticks/s.
        deadline = time.monotonic() + 5
        while last.t <= first.t and time.monotonic() < deadline:
            time.sleep(0.1)
            last = _service_mark(space, worker.pid, sim)
    return _window("service", size, first, last)


def _service_mark(space: RedisSpace, pid: int, sim: SimulatorProcess) -> Mark:
    beat = space.heartbeat(JOB_KEY) or {}
    sim_cpu, events = _sim_marks(sim)
    return Mark(beat["sent_at"] / 1000, int(beat["ticks_total"]), cpu_seconds(pid), sim_cpu, events)


# -- the bare loop -------------------------------------------------------------------
class BareProcess:
    """``python -m bench.bare`` with its latest report line kept by a reader thread."""

    def __init__(self, port: int, seconds: float, *extra: str) -> None:
        argv = [sys.executable, "-m", "bench.bare", f"--port={port}", f"--seconds={seconds}"]
        argv += extra
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        self.latest: dict[str, Any] = {}
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.latest = json.loads(line)

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Return at its first report of ticks; raises RuntimeError if it exits first."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bench.bare exited with {self.proc.returncode}")
            return bool(self.latest.get("ticks"))

        wait_until(ready, timeout_s, "the bare loop's first ticks")

    def wait(self, timeout_s: float) -> dict[str, Any]:
        """Wait for the end of its run; returns its last line."""
        self.proc.wait(timeout_s)
        self._thread.join(5)
        return self.latest

    def close(self) -> None:
        stop_child(self.proc)
        self._thread.join(5)


def run_bare(sim: SimulatorProcess, size: int, plan: Plan) -> dict[str, Any]:
    bare = BareProcess(sim.port, seconds=plan.warmup_s + plan.window_s + 30)
    try:
        bare.wait_ready()
        time.sleep(plan.warmup_s)
        first = _bare_mark(bare, sim)
        time.sleep(plan.window_s)
        last = _bare_mark(bare, sim)
    finally:
        bare.close()
    return _window("bare", size, first, last)


def _bare_mark(bare: BareProcess, sim: SimulatorProcess) -> Mark:
    latest = dict(bare.latest)
    sim_cpu, events = _sim_marks(sim)
    return Mark(latest["t"], int(latest["ticks"]), cpu_seconds(bare.proc.pid), sim_cpu, events)


# -- the benchmark -------------------------------------------------------------------
def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    """At full rate (the simulator sends as fast as the client reads)."""
    return compare(space, PLANS[mode], logs)


def run_sustained(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    """At a paced total rate below what one client can parse."""
    result = compare(space, SUSTAINED_PLANS[mode], logs)
    result["goals"] = [g for g in result["goals"] if g["goal"].startswith("ratio")]
    return result


def compare(space: RedisSpace, plan: Plan, logs: Path) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = []
    for size in plan.sizes:
        with job_simulator(space, JOB_KEY, size, rate=plan.total_rate / size) as sim:
            for index in range(plan.rounds):
                for client in round_order(index):
                    row = (
                        run_service(space, sim, size, plan, logs)
                        if client == "service"
                        else run_bare(sim, size, plan)
                    )
                    rounds.append({**row, "round": index})
                    print(f"  {size} symbols, round {index}, {client}: {row['ticks_per_s']:,.0f}/s")
    summary = summarize(rounds, plan.sizes)
    return {
        "plan": plan.__dict__,
        "rounds": rounds,
        "summary": summary,
        "goals": goals(summary),
        "table": render(summary),
    }


def summarize(rounds: list[dict[str, Any]], sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Medians per (symbols, client) and the service/bare ratio of the medians."""
    rows = []
    for size in sizes:
        row: dict[str, Any] = {"symbols": size}
        for client in ("service", "bare"):
            mine = [r for r in rounds if r["symbols"] == size and r["client"] == client]
            for metric in (
                "ticks_per_s",
                "cpu_s_per_1k_ticks",
                "cpu_s_per_1k_frames",
                "client_cpu_pct",
                "sim_cpu_pct",
                "sim_events_per_s",
            ):
                row[f"{client}_{metric}"] = median([r[metric] for r in mine])
        row["ratio"] = row["service_ticks_per_s"] / row["bare_ticks_per_s"]
        # How fast each client drained the socket: at full rate the simulator sends
        # only as fast as its reader reads (TCP back-pressure), unless it is the limit.
        row["frames_ratio"] = row["service_sim_events_per_s"] / row["bare_sim_events_per_s"]
        rows.append(row)
    return rows


def goals(summary: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for row in summary:
        if row["symbols"] in (200, 1000):
            found.append(
                goal(f"ratio service/bare at {row['symbols']}", row["ratio"], 0.85, at_least=True)
            )
    best = max(row["service_ticks_per_s"] for row in summary)
    found.append(goal("service ticks/s, one job (best size)", best, 10_000, at_least=True))
    return found


def render(summary: list[dict[str, Any]]) -> str:
    headers = (
        "symbols",
        "service ticks/s",
        "bare ticks/s",
        "ratio",
        "frames ratio",
        "service CPU s/1k",
        "bare CPU s/1k",
        "CPU s/1k frames (svc/bare)",
        "service CPU %",
        "bare CPU %",
        "sim CPU % (svc/bare)",
        "sim events/s (svc/bare)",
    )
    rows = [
        (
            r["symbols"],
            r["service_ticks_per_s"],
            r["bare_ticks_per_s"],
            f"{r['ratio']:.2f}",
            f"{r['frames_ratio']:.2f}",
            f"{r['service_cpu_s_per_1k_ticks']:.3f}",
            f"{r['bare_cpu_s_per_1k_ticks']:.3f}",
            f"{r['service_cpu_s_per_1k_frames']:.3f} / {r['bare_cpu_s_per_1k_frames']:.3f}",
            f"{r['service_client_cpu_pct']:.0f}",
            f"{r['bare_client_cpu_pct']:.0f}",
            f"{r['service_sim_cpu_pct']:.0f} / {r['bare_sim_cpu_pct']:.0f}",
            f"{r['service_sim_events_per_s']:,.0f} / {r['bare_sim_events_per_s']:,.0f}",
        )
        for r in summary
    ]
    return table(headers, rows)
