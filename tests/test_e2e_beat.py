"""End to end with the real beat: database rows become streams, and a killed worker heals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, ServiceProcess, service_env, started, worker_args
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
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


@dataclass
class Alpha:
    """The job "alpha" as Redis shows it: its board, its heartbeat, its lease."""

    client: redis.Redis
    keys: Keys

    def board(self) -> dict[str, dict]:
        return board(self.client, self.keys, "alpha")

    def holder_pid(self) -> int:
        """The pid in alpha's last heartbeat (the process that holds its lease), or 0."""
        raw = self.client.hget(self.keys.health_jobs(), "alpha")
        return int(json.loads(raw or b"{}").get("pid", 0))

    def ticked_since(self, since_ms: float) -> bool:
        return any(t["received_at"] > since_ms + 200 for t in self.board().values())

    def leased(self) -> bool:
        return bool(self.client.exists(self.keys.lease("alpha")))


@pytest.fixture
def alpha(redis_client: redis.Redis, keys: Keys) -> Alpha:
    return Alpha(redis_client, keys)


def test_a_killed_worker_streams_again_on_the_other_within_seconds(
    env: dict[str, str], alpha: Alpha, tmp_path: Path
) -> None:
    workers = [ServiceProcess(worker_args(), env, tmp_path / f"w{i}.log") for i in (1, 2)]
    try:
        with started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"):
            wait_until(lambda: len(alpha.board()) == 20, 20, "first ticks")
            wait_until(lambda: alpha.holder_pid() > 0, 10, "a heartbeat")
            holder = alpha.holder_pid()
            victim = next(w for w in workers if _is_parent_of(w.pid, holder))
            os.killpg(victim.pid, signal.SIGKILL)
            killed_at_ms = time.time() * 1000
            victim.proc.wait(5)
            gap = wait_until(lambda: alpha.ticked_since(killed_at_ms), 30, "resume")
            print(
                f"failover gap: ticks resumed {gap:.1f}s after SIGKILL (LEASE_TTL_S=3, SUPERVISE=1)"
            )
            assert gap < 3 + 1 + 5
            wait_until(lambda: alpha.holder_pid() != holder, 10, "hb")
    finally:
        for worker in workers:
            worker.close()


def _is_parent_of(parent: int, child: int) -> bool:
    try:
        stat = Path(f"/proc/{child}/stat").read_text()
    except FileNotFoundError:
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == parent


def test_symbols_and_exchanges_edited_in_the_database_are_followed_at_the_next_reconcile(
    env: dict[str, str],
    alpha: Alpha,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
    sim: SimulatorProcess,
) -> None:
    symbols = sorted(sim.client.last())
    with (
        started(worker_args(), env, tmp_path / "w.log"),
        started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"),
    ):
        wait_until(lambda: len(alpha.board()) == 20, 20, "first ticks")
        cli(env, "symbols", "add", "alpha", *symbols[20:25])
        cli(env, "symbols", "remove", "alpha", *symbols[:3])
        wanted = set(symbols[3:25])
        wait_until(lambda: set(alpha.board()) == wanted, 15, "symbols follow")
        cli(env, "exchanges", "disable", "alpha")
        wait_until(lambda: not alpha.leased(), 15, "the stream to stop")
        assert redis_client.hget(keys.desired(), "alpha") is None
