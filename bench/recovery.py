"""Recovery: a killed worker's exchange is streamed again by another; SIGTERM frees the lease.

Per round, on a fresh key prefix: a SQLite database seeded through the CLI
(``ticker-service db upgrade``, ``exchanges add``, ``symbols add``), a real
``ticker-scheduler`` beat and two ``dramatiq service.workers`` processes, with
the default LEASE_TTL_S=15 and SUPERVISE_INTERVAL_S=5 (``--tiny`` shortens
them). Once ticks flow:

1. SIGKILL the worker child that holds the lease (its pid from the job's
   heartbeat); measure the seconds until the lease lapses, until another run
   takes it, and until ticks stamped after the kill arrive on the pub/sub
   channel (``failover``);
2. SIGTERM the main process of the worker that took over (what a platform
   sends); measure the seconds until the lease key is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    RedisSpace,
    goal,
    median,
    parent_pid,
    sim_symbols,
    simulator,
    table,
    wait_until,
)
from bench.procs import BIN, ServiceProcess, service_env, started, worker_args
from bench.pubsub import ChannelListener
from service.simulator.testing import SimulatorProcess

JOB_KEY = "alpha"
DEFAULTS = {"LEASE_TTL_S": "15", "SUPERVISE_INTERVAL_S": "5"}


@dataclass(frozen=True)
class Plan:
    rounds: int
    symbols: int
    settings: dict[str, str]
    timeout_s: float


PLANS = {
    "full": Plan(3, 50, DEFAULTS, timeout_s=90.0),
    "quick": Plan(1, 50, DEFAULTS, timeout_s=90.0),
    "tiny": Plan(1, 10, {"LEASE_TTL_S": "2", "SUPERVISE_INTERVAL_S": "1"}, timeout_s=30.0),
}


def _env(space: RedisSpace, db_url: str, plan: Plan) -> dict[str, str]:
    env = service_env(space.url, space.prefix, DRAMATIQ_NAMESPACE=space.namespace)
    # Back to the service's defaults where service_env shortens them for tests;
    # heartbeats stay at 1 s only so the holder's pid is known quickly.
    env.update(STALE_AFTER_S="30", TICKER_RECONNECT_DELAY="1", TICKER_RECONNECT_MAX_DELAY="30")
    env.update(plan.settings, DATABASE_URL=db_url, LOG_LEVEL="WARNING")
    return env


def seed(env: dict[str, str], sim: SimulatorProcess, symbols: list[str]) -> None:
    """The operator's way: migrate, add the exchange and its symbols through the CLI."""
    cli = str(BIN / "ticker-service")
    params = json.dumps(sim.ccxt_params)
    for argv in (
        [cli, "db", "upgrade"],
        [cli, "exchanges", "add", JOB_KEY, "--ccxt-id", "binance", "--params", params],
        [cli, "symbols", "add", JOB_KEY, *symbols],
    ):
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)


class Arrivals(ChannelListener):
    """Pub/sub listener: (monotonic arrival, newest received_at) of every batch."""

    def __init__(self, space: RedisSpace) -> None:
        self.batches: list[tuple[float, int]] = []
        super().__init__(space.client, space.keys.tick_channel(JOB_KEY))

    def on_message(self, data: bytes) -> None:
        ticks = json.loads(data)
        self.batches.append((time.monotonic(), max(t["received_at"] for t in ticks)))

    def first_after(self, wall_ms: int) -> float | None:
        """Arrival of the first batch stamped by the service after ``wall_ms``."""
        return next((at for at, stamped in list(self.batches) if stamped > wall_ms), None)


def one_round(space: RedisSpace, sim: SimulatorProcess, plan: Plan, logs: Path) -> dict[str, Any]:
    db_url = f"sqlite:///{logs / (space.prefix.replace(':', '_') + '.db')}"
    env = _env(space, db_url, plan)
    seed(env, sim, sim_symbols(sim)[: plan.symbols])
    arrivals = Arrivals(space)
    with ExitStack() as stack:
        stack.callback(arrivals.close)
        beat = stack.enter_context(started([str(BIN / "ticker-scheduler")], env, logs / "beat.log"))
        workers = [
            stack.enter_context(started(worker_args(), env, logs / f"worker{n}.log"))
            for n in (1, 2)
        ]
        holder = wait_until(lambda: _streaming_pid(space), plan.timeout_s, "ticks from a worker")
        killed = _kill(space, holder, arrivals, plan)
        successor = wait_until(
            lambda: _streaming_pid(space, not_pid=holder), plan.timeout_s, "a successor"
        )
        stopped = _terminate(space, _owner(workers, successor))
        if beat.proc.poll() is not None:
            raise RuntimeError(f"the beat exited:\n{beat.output()[-2000:]}")
    return {**killed, **stopped}


def _streaming_pid(space: RedisSpace, not_pid: int | None = None) -> int | None:
    beat = space.heartbeat(JOB_KEY)
    if not beat or beat.get("state") != "streaming" or not beat.get("ticks_total"):
        return None
    pid = int(beat["pid"])
    return None if pid == not_pid or not space.client.exists(space.keys.lease(JOB_KEY)) else pid


def _kill(space: RedisSpace, pid: int, arrivals: Arrivals, plan: Plan) -> dict[str, Any]:
    lease_key = space.keys.lease(JOB_KEY)
    token = space.client.get(lease_key)
    killed_ms, killed_at = time.time_ns() // 1_000_000, time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: space.client.get(lease_key) != token, plan.timeout_s, "lapse")
    lapsed_at = time.monotonic()
    wait_until(lambda: space.client.get(lease_key) not in (None, token), plan.timeout_s, "retake")
    retaken_at = time.monotonic()
    first = wait_until(lambda: arrivals.first_after(killed_ms), plan.timeout_s, "ticks again")
    return {
        "killed_pid": pid,
        "lease_lapsed_s": lapsed_at - killed_at,
        "lease_retaken_s": retaken_at - killed_at,
        "failover_s": first - killed_at,
    }


def _owner(workers: list[ServiceProcess], child_pid: int) -> ServiceProcess:
    main_pid = parent_pid(child_pid)
    return next(w for w in workers if w.pid == main_pid)


def _terminate(space: RedisSpace, worker: ServiceProcess) -> dict[str, Any]:
    lease_key = space.keys.lease(JOB_KEY)
    started_at = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)  # the dramatiq main process forwards it
    wait_until(lambda: not space.client.exists(lease_key), 30, "the lease release", step_s=0.01)
    released = time.monotonic() - started_at
    worker.proc.wait(30)
    return {"sigterm_lease_released_s": released, "sigterm_exit_s": time.monotonic() - started_at}


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    plan = PLANS[mode]
    rounds = []
    with simulator(plan.symbols, rate=10) as sim:
        for index in range(plan.rounds):
            round_space = RedisSpace(space.url, f"{space.prefix}:r{index}", space.client)
            round_logs = logs / f"round{index}"
            round_logs.mkdir()
            rounds.append({"round": index, **one_round(round_space, sim, plan, round_logs)})
            print(f"  round {index}: failover {rounds[-1]['failover_s']:.1f}s")
    summary = {k: median([r[k] for r in rounds]) for k in rounds[0] if k.endswith("_s")}
    summary["max_failover_s"] = max(r["failover_s"] for r in rounds)
    return {
        "plan": plan.__dict__,
        "rounds": rounds,
        "summary": summary,
        "goals": [
            goal("failover s (worst round)", summary["max_failover_s"], 30.0, at_least=False)
        ],
        "table": render(rounds),
    }


def render(rounds: list[dict[str, Any]]) -> str:
    headers = ("round", "lease lapsed s", "lease retaken s", "ticks again s (failover)",
               "SIGTERM: lease released s", "SIGTERM: exited s")  # fmt: skip
    rows = [
        (
            r["round"],
            f"{r['lease_lapsed_s']:.1f}",
            f"{r['lease_retaken_s']:.1f}",
            f"{r['failover_s']:.1f}",
            f"{r['sigterm_lease_released_s']:.2f}",
            f"{r['sigterm_exit_s']:.2f}",
        )
        for r in rounds
    ]
    return table(headers, rows)
