"""Memory: RSS of the worker process after 100k and after 1M ticks at full rate.

One real worker streams 200 symbols from a simulator at full rate. The
targets count ticker updates the worker received: the frames the simulator
sent it (``events_sent``; the worker is its only client). At full rate ccxt
conflates, so the ticks the job stored (``ticks_total`` of its heartbeats,
also shown) are fewer: about 500/s here, 1M of them would take half an hour.
``/proc/<pid>/status`` VmRSS of the worker child (the process running the
job) is read each time a target is crossed. Bounded: a target not reached
within ``max_s`` is reported as missing, never waited for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    JOB_KEY,
    RedisSpace,
    goal,
    job_simulator,
    rss_mb,
    streaming_worker,
    table,
)
from service.simulator.testing import SimulatorClient

POLL_S = 0.25


@dataclass(frozen=True)
class Plan:
    symbols: int
    targets: tuple[int, ...]
    max_s: float


PLANS = {
    "full": Plan(200, (100_000, 250_000, 500_000, 1_000_000), max_s=300.0),
    "quick": Plan(200, (100_000, 200_000, 300_000), max_s=120.0),
    "tiny": Plan(20, (40_000, 80_000), max_s=25.0),
}


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    plan = PLANS[mode]
    with (
        job_simulator(space, JOB_KEY, plan.symbols, rate=0) as sim,
        streaming_worker(space, JOB_KEY, logs) as worker,
    ):
        start_rss = rss_mb(worker.pid)
        samples = _follow(space, worker.pid, plan, sim.client)
    growth = _growth(samples)
    result: dict[str, Any] = {
        "plan": plan.__dict__,
        "rss_at_start_mb": start_rss,
        "samples": samples,
        "growth_mb": growth,
        "table": render(samples, start_rss),
        "goals": [],
    }
    if growth is not None and mode == "full":
        name = "RSS growth 100k -> 1M ticks received, MB"
        result["goals"] = [goal(name, growth, 10.0, at_least=False)]
    elif growth is not None:
        name = f"RSS growth {plan.targets[0]:,} -> {plan.targets[-1]:,} ticks received, MB"
        result["goals"] = [goal(name, growth, 10.0, at_least=False)]
    return result


def _follow(space: RedisSpace, pid: int, plan: Plan, sim: SimulatorClient) -> list[dict[str, Any]]:
    """One sample (frames, ticks, RSS, seconds) per target crossed, until the last or ``max_s``."""
    samples: list[dict[str, Any]] = []
    pending = list(plan.targets)
    started = time.monotonic()
    while pending and time.monotonic() - started < plan.max_s:
        time.sleep(POLL_S)
        frames = int(sim.state()["events_sent"])
        if frames < pending[0]:
            continue
        ticks = int((space.heartbeat(JOB_KEY) or {}).get("ticks_total", 0))
        reading = {"frames": frames, "ticks": ticks, "rss_mb": rss_mb(pid),
                   "elapsed_s": round(time.monotonic() - started, 1)}  # fmt: skip
        while pending and frames >= pending[0]:
            samples.append({"target": pending.pop(0), **reading})
    samples.extend(
        {"target": t, "frames": None, "ticks": None, "rss_mb": None, "elapsed_s": None}
        for t in pending
    )
    return samples


def _growth(samples: list[dict[str, Any]]) -> float | None:
    first, last = samples[0]["rss_mb"], samples[-1]["rss_mb"]
    return None if first is None or last is None else last - first


def render(samples: list[dict[str, Any]], start_rss: float) -> str:
    rows: list[tuple[Any, ...]] = [("first streaming heartbeat", "-", "-", f"{start_rss:.1f}", "-")]
    for s in samples:
        after = f"{s['target']:,} ticks received"
        if s["frames"] is None:
            rows.append((after, "not reached", "-", "-", "-"))
        else:
            rows.append((after, s["frames"], s["ticks"], f"{s['rss_mb']:.1f}",
                         f"{s['elapsed_s']:.1f}"))  # fmt: skip
    headers = ("after", "frames received", "ticks stored", "worker RSS MB", "seconds")
    return table(headers, rows)
