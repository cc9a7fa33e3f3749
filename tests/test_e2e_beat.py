"""End to end with the real beat: database rows become streams, and a killed worker heals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.keys import Keys
from tests.procs import BIN, ServiceProcess, service_env, started, worker_args
from tests.sim_helpers import SimulatorProcess
from tests.test_e2e_workers import board, wait_until

pytestmark = pytest.mark.e2e


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "ticker-service"), *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("binance", symbols=30, rate=5, seed=31) as running:
        yield running


@pytest.fixture
def env(redis_url: str, key_prefix: str, sqlite_url: str, sim: SimulatorProcess) -> dict[str, str]:
    env = service_env(
        redis_url,
        key_prefix,
        DATABASE_URL=sqlite_url,
        SUPERVISE_INTERVAL_S="1",
        RECONCILE_INTERVAL_S="2",
    )
    cli(env, "db", "upgrade")
    cli(
        env,
        "exchanges",
        "add",
        "alpha",
        "--ccxt-id",
        "binance",
        "--params",
        json.dumps(sim.ccxt_params),
    )
    cli(env, "symbols", "add", "alpha", *sorted(sim.client.last())[:20])
    return env


def lease_holder_pid(client: redis.Redis, keys: Keys, job_key: str) -> int:
    return int(json.loads(client.hget(keys.health_jobs(), job_key) or b"{}").get("pid", 0))


def test_a_killed_worker_streams_again_on_the_other_within_seconds(
    env: dict[str, str],
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    sim: SimulatorProcess,
) -> None:
    workers = [ServiceProcess(worker_args(), env, tmp_path / f"w{i}.log") for i in (1, 2)]
    try:
        with started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"):
            wait_until(lambda: len(board(redis_client, keys, "alpha")) == 20, 20, "first ticks")
            wait_until(lambda: lease_holder_pid(redis_client, keys, "alpha") > 0, 10, "a heartbeat")
            holder = lease_holder_pid(redis_client, keys, "alpha")
            victim = next(w for w in workers if _is_parent_of(w.pid, holder))
            os.killpg(victim.pid, signal.SIGKILL)
            killed_at_ms = time.time() * 1000
            victim.proc.wait(5)
            gap = wait_until(lambda: _ticked_since(redis_client, keys, killed_at_ms), 30, "resume")
            print(
                f"failover gap: ticks resumed {gap:.1f}s after SIGKILL (LEASE_TTL_S=3, SUPERVISE=1)"
            )
            assert gap < 3 + 1 + 5
            wait_until(lambda: lease_holder_pid(redis_client, keys, "alpha") != holder, 10, "hb")
    finally:
        for worker in workers:
            worker.close()


def _is_parent_of(parent: int, child: int) -> bool:
    try:
        stat = Path(f"/proc/{child}/stat").read_text()
    except FileNotFoundError:
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == parent


def _ticked_since(client: redis.Redis, keys: Keys, since_ms: float) -> bool:
    return any(t["received_at"] > since_ms + 200 for t in board(client, keys, "alpha").values())


def test_symbols_and_exchanges_edited_in_the_database_are_followed_at_the_next_reconcile(
    env: dict[str, str],
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    sim: SimulatorProcess,
) -> None:
    symbols = sorted(sim.client.last())
    with (
        started(worker_args(), env, tmp_path / "w.log"),
        started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"),
    ):
        wait_until(lambda: len(board(redis_client, keys, "alpha")) == 20, 20, "first ticks")
        cli(env, "symbols", "add", "alpha", *symbols[20:25])
        cli(env, "symbols", "remove", "alpha", *symbols[:3])
        wanted = set(symbols[3:25])
        wait_until(lambda: set(board(redis_client, keys, "alpha")) == wanted, 15, "symbols follow")
        cli(env, "exchanges", "disable", "alpha")
        wait_until(lambda: redis_client.exists(keys.lease("alpha")) == 0, 15, "the stream to stop")
        assert redis_client.hget(keys.desired(), "alpha") is None
