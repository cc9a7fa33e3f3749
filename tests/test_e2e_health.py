"""End to end with real processes: is every exchange streaming, and if not, why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, enqueue_stream, service_env, started, worker_args
from service.devrun.ports import free_port
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.test_e2e_workers import wait_until
from workers.spec import JobSpec

pytestmark = pytest.mark.e2e


def status(env: dict[str, str]) -> tuple[int, dict]:
    done = subprocess.run(
        [str(BIN / "ticker-service"), "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.returncode, json.loads(done.stdout)


def job_state(env: dict[str, str], job_key: str) -> str:
    _, report = status(env)
    return next((j["state"] for j in report["jobs"] if j["job_key"] == job_key), "missing")


def alpha_row(env: dict[str, str]) -> dict:
    _, report = status(env)
    return next((j for j in report["jobs"] if j["job_key"] == "alpha"), {"heartbeat_state": None})


def http(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("binance", symbols=8, rate=5, seed=41) as running:
        yield running


def test_status_healthz_and_metrics_follow_a_stream_through_stall_and_a_killed_worker(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    sim: SimulatorProcess,
) -> None:
    env = service_env(redis_url, key_prefix, STALE_AFTER_S="2", SUPERVISE_INTERVAL_S="1")
    symbols = (*sorted(sim.client.last()), "NOPE/USDT")
    spec = JobSpec("alpha", "alpha", "binance", symbols, sim.ccxt_params, generation=1)
    redis_client.hset(keys.desired(), "alpha", spec.to_json())
    port = free_port()
    web = [str(BIN / "ticker-service"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with (
        started(web, env, tmp_path / "web.log"),
        started(worker_args(2, ("health",)), env, tmp_path / "health.log"),
        started(worker_args(2, ("streams",)), env, tmp_path / "worker.log") as worker,
    ):
        enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], "alpha")
        # A starting job is up before its feed has checked the symbols: wait for the
        # heartbeat of the open feed, which names the invalid one.
        wait_until(lambda: alpha_row(env)["heartbeat_state"] == "streaming", 20, "streaming")
        wait_until(lambda: job_state(env, "alpha") == "up", 20, "up")
        code, report = status(env)
        row = next(j for j in report["jobs"] if j["job_key"] == "alpha")
        assert code == 0 and row["invalid_symbols"] == ["NOPE/USDT"]
        wait_until(lambda: http(f"http://127.0.0.1:{port}/healthz")[0] == 200, 10, "200")
        metrics = http(f"http://127.0.0.1:{port}/metrics")[1]
        ticks = [line for line in metrics.splitlines() if line.startswith("ticker_job_ticks_total")]
        assert ticks and float(ticks[0].split()[-1]) > 0, metrics[:2000]

        sim.client.stall()
        stalled_at = time.monotonic()
        wait_until(lambda: job_state(env, "alpha") == "stale", 10, "stale")
        print(f"stale in status {time.monotonic() - stalled_at:.1f}s after the stall")
        assert http(f"http://127.0.0.1:{port}/healthz")[0] == 503
        assert status(env)[0] != 0
        sim.client.resume()
        wait_until(lambda: job_state(env, "alpha") == "up", 15, "up again")

        os.killpg(worker.pid, signal.SIGKILL)
        worker.proc.wait(5)
        wait_until(lambda: job_state(env, "alpha") == "down", 15, "down")
        assert http(f"http://127.0.0.1:{port}/healthz")[0] == 503
