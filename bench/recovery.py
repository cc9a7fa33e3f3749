"""Recovery with the default settings: failover after SIGKILL, lease release after SIGTERM,
and the Redis commands per second one streaming job costs.

Per round, on a private redis-server (so ``INFO commandstats`` sees this
deployment alone): a SQLite database migrated through the CLI, a real
``ticker-scheduler`` and two ``dramatiq service.workers`` processes, every
timing at its default (``service.settings``). Then:

1. with no exchange yet, the commands/s of the idle deployment; the exchange
   added through the CLI; once it streams, the commands/s again: the
   difference is what one job costs (lease renewals, spec checks, tick writes,
   heartbeats and their recording);
2. SIGKILL the worker child that holds the lease (its pid from the job's
   heartbeat): the seconds until the lease lapses, until another run takes it,
   and until ticks stamped after the kill arrive on the pub/sub channel;
3. SIGTERM the main process of the worker that took over (what a platform
   sends): the seconds until the lease key is gone.

The lease times come from Redis's own clock (the dead holder's remaining PTTL;
the new lease's PTTL when first seen), not from when a poll noticed: the order
lapsed < retaken < ticks again is then what happened, to the millisecond.
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

import redis

from bench.common import (
    TIMINGS,
    RedisSpace,
    goal,
    median,
    parent_pid,
    sim_symbols,
    simulator,
    table,
)
from bench.common import wait_until as poll
from bench.procs import BIN, ServiceProcess, service_env, started, worker_args
from bench.pubsub import ChannelListener
from bench.redis_cost import Rates, added, measure
from bench.redis_server import RedisServer
from service.settings import VARIABLES, Settings
from service.simulator.testing import SimulatorProcess

JOB_KEY = "alpha"
GOAL_FAILOVER_S = 10.0


@dataclass(frozen=True)
class Plan:
    rounds: int
    symbols: int
    window_s: float  # each commands/s window
    timeout_s: float


PLANS = {
    "full": Plan(3, 50, window_s=10.0, timeout_s=60.0),
    "quick": Plan(1, 50, window_s=10.0, timeout_s=60.0),
    "tiny": Plan(1, 10, window_s=2.0, timeout_s=30.0),
}


def _env(space: RedisSpace, db_url: str) -> dict[str, str]:
    env = service_env(space.url, space.prefix, DRAMATIQ_NAMESPACE=space.namespace)
    # Back to the service's defaults wherever service_env shortens them for tests.
    env.update({name: VARIABLES[name][0] for name in TIMINGS})
    env.update(DATABASE_URL=db_url, LOG_LEVEL="WARNING")
    return env


def cli(env: dict[str, str], *args: str) -> None:
    argv = [str(BIN / "ticker-service"), *args]
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=60)


def add_exchange(env: dict[str, str], sim: SimulatorProcess, symbols: list[str]) -> None:
    """The operator's way: the exchange and its symbols through the CLI (the beat wakes)."""
    cli(env, "exchanges", "add", JOB_KEY, "--ccxt-id", "binance",
        "--params", json.dumps(sim.ccxt_params))  # fmt: skip
    cli(env, "symbols", "add", JOB_KEY, *symbols)


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
    env = _env(space, f"sqlite:///{logs / 'recovery.db'}")
    cli(env, "db", "upgrade")
    arrivals = Arrivals(space)
    with ExitStack() as stack:
        stack.callback(arrivals.close)
        beat = stack.enter_context(started([str(BIN / "ticker-scheduler")], env, logs / "beat.log"))
        workers = [
            stack.enter_context(started(worker_args(), env, logs / f"worker{n}.log"))
            for n in (1, 2)
        ]
        cost = _job_cost(space, env, sim, plan)
        holder = poll(lambda: _streaming_pid(space), plan.timeout_s, "ticks from a worker")
        killed = _kill(space, holder, arrivals, plan)
        successor = poll(lambda: _streaming_pid(space, holder), plan.timeout_s, "a successor")
        stopped = _terminate(space, _owner(workers, successor))
        if beat.proc.poll() is not None:
            raise RuntimeError(f"the beat exited:\n{beat.output()[-2000:]}")
    return {**cost, **killed, **stopped}


def _job_cost(
    space: RedisSpace, env: dict[str, str], sim: SimulatorProcess, plan: Plan
) -> dict[str, Any]:
    """Commands/s of the idle deployment, then with the one job streaming: the difference."""
    poll(lambda: space.client.hlen(space.keys.beat_status()) == 2, plan.timeout_s, "beat passes")
    time.sleep(2.0)  # the workers' consumers are polling by now
    idle = measure(space.client, plan.window_s)
    add_exchange(env, sim, sim_symbols(sim)[: plan.symbols])
    poll(lambda: _streaming_pid(space), plan.timeout_s, "ticks from a worker")
    time.sleep(2.0)  # past the job's start-up
    busy = measure(space.client, plan.window_s)
    return _cost_fields(idle, busy)


def _cost_fields(idle: Rates, busy: Rates) -> dict[str, Any]:
    by_name = added(busy, idle)
    writes = sum(by_name.get(name, 0.0) for name in ("hset", "sadd", "publish"))
    return {
        "idle_commands_per_s": round(idle.total, 1),
        "job_commands_per_s": round(busy.total - idle.total, 1),
        "job_commands_per_s_without_tick_writes": round(busy.total - idle.total - writes, 1),
        "job_commands_by_name": by_name,
    }


def _streaming_pid(space: RedisSpace, not_pid: int | None = None) -> int | None:
    beat = space.heartbeat(JOB_KEY)
    if not beat or beat.get("state") != "streaming" or not beat.get("ticks_total"):
        return None
    pid = int(beat["pid"])
    return None if pid == not_pid or not space.client.exists(space.keys.lease(JOB_KEY)) else pid


def _lease(client: redis.Redis, key: str) -> tuple[bytes | None, int, float]:
    """(token, PTTL ms, monotonic just before the read), read atomically."""
    at = time.monotonic()
    pipe = client.pipeline(transaction=True)
    token, pttl = pipe.get(key).pttl(key).execute()
    return token, int(pttl), at


def _kill(space: RedisSpace, pid: int, arrivals: Arrivals, plan: Plan) -> dict[str, Any]:
    key = space.keys.lease(JOB_KEY)
    token = space.client.get(key)
    killed_ms, killed_at = time.time_ns() // 1_000_000, time.monotonic()
    os.kill(pid, signal.SIGKILL)
    poll(lambda: _gone(pid), 10, "the holder to die", step_s=0.005)
    time.sleep(0.05)  # a renewal it wrote just before dying has reached Redis
    held, pttl, read_at = _lease(space.client, key)
    if held != token or pttl < 0:
        raise RuntimeError(f"the killed holder's lease changed within 50 ms ({held!r}, {pttl})")
    lapsed_at = read_at + pttl / 1000  # nobody renews it any more: it expires then
    retaken_at = poll(lambda: _retaken(space.client, key, token), plan.timeout_s, "retake", 0.005)
    first = poll(lambda: arrivals.first_after(killed_ms), plan.timeout_s, "ticks again")
    return {
        "killed_pid": pid,
        "lease_lapsed_s": lapsed_at - killed_at,
        "lease_retaken_s": retaken_at - killed_at,
        "failover_s": first - killed_at,
    }


def _gone(pid: int) -> bool:
    """True once ``pid`` is dead (gone, or a zombie its parent has not reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _retaken(client: redis.Redis, key: str, old: bytes | None) -> float | None:
    """When another run set the lease (its ttl so far elapsed since), or None if none has."""
    token, pttl, read_at = _lease(client, key)
    if token in (None, old) or pttl < 0:
        return None
    return read_at - (Settings().lease_ttl_s * 1000 - pttl) / 1000


def _owner(workers: list[ServiceProcess], child_pid: int) -> ServiceProcess:
    main_pid = parent_pid(child_pid)
    return next(w for w in workers if w.pid == main_pid)


def _terminate(space: RedisSpace, worker: ServiceProcess) -> dict[str, Any]:
    lease_key = space.keys.lease(JOB_KEY)
    started_at = time.monotonic()
    os.kill(worker.pid, signal.SIGTERM)  # the dramatiq main process forwards it
    poll(lambda: not space.client.exists(lease_key), 30, "the lease release", step_s=0.01)
    released = time.monotonic() - started_at
    worker.proc.wait(30)
    return {"sigterm_lease_released_s": released, "sigterm_exit_s": time.monotonic() - started_at}


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    """Every round on a private redis-server; ``space`` names the prefix only."""
    plan = PLANS[mode]
    rounds = []
    with simulator(plan.symbols, rate=10) as sim:
        for index in range(plan.rounds):
            round_logs = logs / f"round{index}"
            round_logs.mkdir()
            with RedisServer() as server, redis.Redis.from_url(server.url) as client:
                private = RedisSpace(server.url, f"{space.prefix}:r{index}", client)
                rounds.append({"round": index, **one_round(private, sim, plan, round_logs)})
            print(f"  round {index}: failover {rounds[-1]['failover_s']:.1f}s, "
                  f"{rounds[-1]['job_commands_per_s']:.0f} commands/s per job")  # fmt: skip
    return _report(plan, rounds)


def _report(plan: Plan, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {k: median([r[k] for r in rounds]) for k in rounds[0] if k.endswith("_s")}
    summary["max_failover_s"] = max(r["failover_s"] for r in rounds)
    defaults = Settings()
    return {
        "plan": plan.__dict__,
        "settings": {
            name: getattr(defaults, name)
            for name in ("lease_ttl_s", "supervise_interval_s", "heartbeat_interval_s")
        },
        "rounds": rounds,
        "summary": summary,
        "goals": [
            goal("failover s (worst)", summary["max_failover_s"], GOAL_FAILOVER_S, at_least=False)
        ],
        "table": render(rounds),
    }


def render(rounds: list[dict[str, Any]]) -> str:
    headers = ("round", "lease lapsed s", "lease retaken s", "ticks again s (failover)",
               "SIGTERM: lease released s", "SIGTERM: exited s", "commands/s per job",
               "of which not tick writes")  # fmt: skip
    rows = [
        (
            r["round"],
            f"{r['lease_lapsed_s']:.2f}",
            f"{r['lease_retaken_s']:.2f}",
            f"{r['failover_s']:.2f}",
            f"{r['sigterm_lease_released_s']:.2f}",
            f"{r['sigterm_exit_s']:.2f}",
            f"{r['job_commands_per_s']:.1f}",
            f"{r['job_commands_per_s_without_tick_writes']:.1f}",
        )
        for r in rounds
    ]
    return table(headers, rows)
