"""End to end: the streaming worker SIGKILLed, default settings: the other worker streams
the job within 10 s (LEASE_TTL_S=4 renewed every second, SUPERVISE_INTERVAL_S=1).

Real parts: two ``dramatiq service.workers`` processes, a ``ticker-scheduler``,
a simulator process, SQLite seeded through the CLI, the test's Redis.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from bench.common import parent_pid
from bench.procs import BIN, ServiceProcess, started, worker_args
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.e2e_defaults import add_exchange, cli, default_env, ticking_since, wall_ms
from tests.test_e2e_workers import wait_until

pytestmark = pytest.mark.e2e
BOUND_S = 10.0


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("binance", symbols=10, rate=5, seed=52) as running:
        yield running


def holder_pid(client: redis.Redis, keys: Keys) -> int:
    """The pid in alpha's last heartbeat (the worker child that streams it), or 0."""
    raw = client.hget(keys.health_jobs(), "alpha")
    return int(json.loads(raw or b"{}").get("pid", 0))


def test_a_killed_streaming_worker_s_job_streams_on_the_other_within_10_s(
    sim: SimulatorProcess,
    redis_url: str,
    redis_client: redis.Redis,
    key_prefix: str,
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    keys, symbols = Keys(key_prefix), sorted(sim.client.last())
    env = default_env(redis_url, key_prefix, sqlite_url)
    assert cli(env, "db", "upgrade").returncode == 0
    add_exchange(env, "alpha", sim, symbols)
    with ExitStack() as stack:
        workers: list[ServiceProcess] = [
            stack.enter_context(started(worker_args(), env, tmp_path / f"w{n}.log")) for n in (1, 2)
        ]
        stack.enter_context(started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"))
        wait_until(lambda: ticking_since(redis_client, keys, "alpha", symbols, 0), 30, "ticks")
        wait_until(lambda: holder_pid(redis_client, keys) > 0, 10, "a heartbeat")
        holder = holder_pid(redis_client, keys)
        victim = next(w for w in workers if w.pid == parent_pid(holder))
        killed_ms, killed_at = wall_ms(), time.monotonic()
        os.killpg(victim.pid, signal.SIGKILL)
        fresh = lambda: ticking_since(redis_client, keys, "alpha", symbols, killed_ms + 100)  # noqa: E731
        wait_until(fresh, BOUND_S + 5, "ticks from the other worker")
        failover_s = time.monotonic() - killed_at
        print(f"failover: ticks again {failover_s:.1f}s after SIGKILL (default settings)")
        assert failover_s <= BOUND_S
        wait_until(lambda: holder_pid(redis_client, keys) not in (0, holder), 10, "its heartbeat")
