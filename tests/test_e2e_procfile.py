"""End to end: the Procfile's own ``worker``, ``health`` and ``beat`` under honcho.

More exchanges than worker processes: one worker process streams all three
(its capacity, ``STREAM_JOBS_PER_PROCESS``, is the default 16), and two worker
processes of capacity two share them (a full one declines, the beat sends the
job again, the other takes it). Then one SIGTERM to honcho stops everything
cleanly: no SIGKILL, every lease released, every job's last word "stopped".
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, ServiceProcess, service_env, started
from service.db import repo
from service.db.migrate import upgrade
from service.db.session import migrated_session
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.test_e2e_health import status
from tests.test_e2e_workers import wait_until

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent
SYMBOLS = 4
STREAMING_WITHIN_S = 40.0
EXCHANGES = {"ex-binance": "binance", "ex-okx": "okx", "ex-binance-2": "binance"}


@pytest.fixture
def simulators() -> Iterator[dict[str, SimulatorProcess]]:
    sims = {
        name: SimulatorProcess(protocol, symbols=SYMBOLS, rate=4, seed=n)
        for n, (name, protocol) in enumerate(EXCHANGES.items())
    }
    try:
        for sim in sims.values():
            sim.start()
        yield sims
    finally:
        for sim in sims.values():
            sim.stop()


@pytest.fixture
def database(tmp_path: Path, simulators: dict[str, SimulatorProcess]) -> str:
    """A migrated SQLite database with one exchange per simulator, all its symbols."""
    url = f"sqlite:///{tmp_path / 'procfile.db'}"
    upgrade(url)
    with migrated_session(url, action="seed") as session:
        for name, sim in simulators.items():
            repo.add_exchange(session, name, sim.protocol, ccxt_params=sim.ccxt_params)
            repo.add_symbols(session, name, sim.client.symbols())
    return url


def honcho(
    env: dict[str, str], tmp_path: Path, *processes: str, workers: int = 1
) -> tuple[list[str], dict[str, str], Path]:
    """``honcho start`` of the repository's Procfile: ``processes``, ``workers`` x worker."""
    empty_env_file = tmp_path / "empty.env"  # never a developer's .env
    empty_env_file.write_text("")
    args = [str(BIN / "honcho"), "start", "--no-colour", "-f", str(ROOT / "Procfile")]
    args += ["-d", str(ROOT), "-e", str(empty_env_file), "-c", f"worker={workers}"]
    # Procfile commands name their programs: the venv's bin first, as on a platform.
    env = {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"}
    return [*args, *processes], env, tmp_path / f"honcho-{'-'.join(processes)}.log"


def streaming_pids(client: redis.Redis, keys: Keys) -> dict[str, int]:
    """Job key -> pid of the worker process whose heartbeat says it streams."""
    jobs = {k.decode(): json.loads(v) for k, v in client.hgetall(keys.health_jobs()).items()}
    return {name: job["pid"] for name, job in jobs.items() if job["state"] == "streaming"}


def every_board_ticks(client: redis.Redis, keys: Keys) -> bool:
    return all(client.hlen(keys.board(name)) == SYMBOLS for name in EXCHANGES)


@pytest.mark.parametrize(
    ("workers", "capacity"), [(1, None), (2, 2)], ids=["one-worker", "two-workers-of-two"]
)
def test_the_procfile_under_honcho_streams_every_exchange_and_stops_cleanly(
    workers: int,
    capacity: int | None,
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    database: str,
    tmp_path: Path,
) -> None:
    env = service_env(redis_url, key_prefix, DATABASE_URL=database, SUPERVISE_INTERVAL_S="1")
    if capacity is not None:
        env["STREAM_JOBS_PER_PROCESS"] = str(capacity)
    started_at = time.monotonic()
    with started(*honcho(env, tmp_path, "worker", "health", "beat", workers=workers)) as run:
        wait_until(lambda: every_board_ticks(redis_client, keys), STREAMING_WITHIN_S, "ticks")
        wait_until(
            lambda: len(streaming_pids(redis_client, keys)) == len(EXCHANGES), 10, "heartbeats"
        )
        print(f"\nevery exchange ticking {time.monotonic() - started_at:.1f}s after honcho start")
        pids = list(streaming_pids(redis_client, keys).values())
        by_pid = sorted(pids.count(pid) for pid in set(pids))
        shown = status(env)[1]["workers"]
        _stop_cleanly(run)
    _assert_shared(by_pid, shown, workers, capacity or 16)
    _assert_stopped(run, redis_client, keys)
    # The health process stopped with the rest: the final heartbeats wait in its
    # queue, and the next health process records them.
    with started(*honcho(env, tmp_path, "health")):
        wait_until(lambda: _all_said_stopped(redis_client, keys), 15, "every job to say stopped")


def _assert_shared(by_pid: list[int], shown: list[dict], workers: int, capacity: int) -> None:
    # Jobs per worker process: one process takes all, or two share without exceeding two.
    assert by_pid == ([3] if workers == 1 else [1, 2])
    live = [w for w in shown if w["jobs"]]
    assert sorted((w["running"], w["capacity"]) for w in live) == [(n, capacity) for n in by_pid]


def _stop_cleanly(run: ServiceProcess) -> None:
    seconds = run.terminate(timeout_s=15)
    print(f"honcho exited {seconds:.1f}s after SIGTERM")


def _assert_stopped(run: ServiceProcess, client: redis.Redis, keys: Keys) -> None:
    output = run.output()
    assert run.proc.returncode == 143, output[-3000:]  # honcho's code for "SIGTERM received"
    assert "SIGKILL" not in output, output[-3000:]
    # Honcho reports its shells' codes (-15: each `sh -c` dies of the SIGTERM at once);
    # it exits once every process of the type closed its output, so each one's own
    # goodbye line is what shows the graceful stop.
    for process in re.findall(r"\| (\S+) started \(pid=", output):
        goodbye = "beat stopped" if process.startswith("beat.") else "Worker has been shut down."
        lines = re.findall(rf"^\S+ {re.escape(process)} +\| (.*)$", output, re.MULTILINE)
        assert any(goodbye in line for line in lines), f"{process}: {lines[-5:]}"
    assert not any(client.exists(keys.lease(name)) for name in EXCHANGES)


def _all_said_stopped(client: redis.Redis, keys: Keys) -> bool:
    return all(
        json.loads(client.hget(keys.health_jobs(), name) or b"{}").get("state") == "stopped"
        for name in EXCHANGES
    )
