"""A deployment with the service's default timings: the database, the CLI and the processes.

For the end-to-end tests that measure what an operator gets without tuning
(failover, Redis loss): ``service_env`` shortens leases and heartbeats for the
other tests; here they go back to ``service.settings`` defaults.
"""

from __future__ import annotations

import json
import subprocess
import time

import redis

from bench.common import TIMINGS
from bench.procs import BIN, service_env
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.test_e2e_workers import board


def default_env(redis_url: str, key_prefix: str, database_url: str) -> dict[str, str]:
    """A service process's environment: the test's Redis, prefix and database, default timings."""
    env = service_env(redis_url, key_prefix, DATABASE_URL=database_url)
    for name in TIMINGS:
        env.pop(name, None)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``ticker-service ARGS``; its result (not checked)."""
    argv = [str(BIN / "ticker-service"), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)


def add_exchange(env: dict[str, str], name: str, sim: SimulatorProcess, symbols: list[str]) -> None:
    """The operator's way: an exchange row pointed at ``sim`` and its symbols, via the CLI."""
    params = json.dumps(sim.ccxt_params)
    for args in (
        ("exchanges", "add", name, "--ccxt-id", sim.protocol, "--params", params),
        ("symbols", "add", name, *symbols),
    ):
        done = cli(env, *args)
        assert done.returncode == 0, done.stderr


def healthy(env: dict[str, str]) -> bool:
    """``ticker-service status --json`` exits 0 (every desired job up) and says so."""
    done = cli(env, "status", "--json")
    return done.returncode == 0 and json.loads(done.stdout)["healthy"] is True


def ticking_since(client: redis.Redis, keys: Keys, job: str, symbols: list[str], ms: float) -> bool:
    """Every symbol of ``job`` is in its board and one tick was received after ``ms``."""
    stored = board(client, keys, job)
    fresh = any(tick["received_at"] > ms for tick in stored.values())
    return fresh and set(symbols) <= set(stored)


def wall_ms() -> float:
    return time.time() * 1000
