"""End to end: real ``dramatiq service.workers`` processes streaming from simulator processes."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from bench.procs import enqueue_stream, service_env, started, worker_args
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from workers.spec import JobSpec

pytestmark = pytest.mark.e2e
SYMBOLS = 50


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    started_at = time.monotonic()
    while time.monotonic() - started_at < timeout_s:
        if check():
            return time.monotonic() - started_at
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def board(client: redis.Redis, keys: Keys, exchange: str) -> dict[str, dict]:
    return {k.decode(): json.loads(v) for k, v in client.hgetall(keys.board(exchange)).items()}


@pytest.fixture
def simulators() -> Iterator[dict[str, SimulatorProcess]]:
    with (
        SimulatorProcess("binance", symbols=SYMBOLS, rate=5, seed=21) as one,
        SimulatorProcess("okx", symbols=SYMBOLS, rate=5, seed=22) as two,
    ):
        yield {"alpha": one, "beta": two}


def put_desired(client: redis.Redis, keys: Keys, sims: dict[str, SimulatorProcess]) -> None:
    for name, sim in sims.items():
        spec = JobSpec(
            job_key=name,
            exchange=name,
            ccxt_id=sim.protocol,
            symbols=tuple(_symbols(sim)),
            ccxt_params=sim.ccxt_params,
            generation=1,
        )
        client.hset(keys.desired(), name, spec.to_json())


def _symbols(sim: SimulatorProcess) -> list[str]:
    return sorted(sim.client.last())


def test_two_workers_stream_two_exchanges_and_store_the_last_values(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    simulators: dict[str, SimulatorProcess],
) -> None:
    env = service_env(redis_url, key_prefix)
    put_desired(redis_client, keys, simulators)
    with (
        started(worker_args(), env, tmp_path / "w1.log") as w1,
        started(worker_args(), env, tmp_path / "w2.log") as w2,
    ):
        started_at = time.monotonic()
        for name in simulators:
            enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], name)
        for name, sim in simulators.items():
            wanted = set(_symbols(sim))
            wait_until(lambda: wanted <= set(board(redis_client, keys, name)), 10, name)  # noqa: B023
        print(f"every symbol ticked after {time.monotonic() - started_at:.1f}s")
        # A duplicate message finds the lease taken and returns: still one connection each.
        connections = {n: s.client.state()["connections_total"] for n, s in simulators.items()}
        for name in simulators:
            enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], name)
        time.sleep(2)
        assert {
            n: s.client.state()["connections_total"] for n, s in simulators.items()
        } == connections
        for sim in simulators.values():
            sim.client.pause()
        time.sleep(1.0)
        for name, sim in simulators.items():
            sent, stored = sim.client.last(), board(redis_client, keys, name)
            assert {s: (t["bid"], t["ask"], t["last"]) for s, t in sent.items()} == {
                s: (stored[s]["bid"], stored[s]["ask"], stored[s]["last"]) for s in sent
            }
        assert w1.proc.poll() is None and w2.proc.poll() is None


def _one_worker_streaming(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    client: redis.Redis,
    tmp_path: Path,
    sims: dict[str, SimulatorProcess],
):  # type: ignore[no-untyped-def]
    env = service_env(redis_url, key_prefix)
    put_desired(client, keys, {"alpha": sims["alpha"]})
    worker = started(worker_args(4, ("streams",)), env, tmp_path / "worker.log")
    return env, worker


@pytest.mark.parametrize("group_kill", [False, True], ids=["sigterm", "double-sigterm"])
def test_sigterm_releases_the_lease_and_reports_stopped_within_ten_seconds(
    group_kill: bool,
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    simulators: dict[str, SimulatorProcess],
) -> None:
    env, worker_cm = _one_worker_streaming(
        redis_url, key_prefix, keys, redis_client, tmp_path, simulators
    )
    # As in the Procfile: heartbeats have a worker of their own, which records the
    # final "stopped" heartbeat the streaming worker sends as it shuts down.
    health = started(worker_args(2, ("health",)), env, tmp_path / "health.log")
    with health, worker_cm as worker:
        enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], "alpha")
        wait_until(lambda: redis_client.exists(keys.lease("alpha")) == 1, 20, "the lease")
        wait_until(lambda: len(board(redis_client, keys, "alpha")) == SYMBOLS, 20, "ticks")
        started_at = time.monotonic()
        # A process-group kill gives the worker child two SIGTERMs (its own and the
        # one its parent forwards): the platforms' way, and still a graceful stop.
        if group_kill:
            os.killpg(worker.pid, signal.SIGTERM)
        else:
            os.kill(worker.pid, signal.SIGTERM)
        worker.proc.wait(10)
        stopped_after = time.monotonic() - started_at
        print(f"exited {stopped_after:.1f}s after SIGTERM")
        assert redis_client.exists(keys.lease("alpha")) == 0, worker.output()[-3000:]
        wait_until(lambda: _state(redis_client, keys, "alpha") == "stopped", 15, "stopped")
        assert "Killing worker process" not in worker.output()


def test_credentials_reach_ccxt_but_never_a_log_line_or_a_heartbeat(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    simulators: dict[str, SimulatorProcess],
) -> None:
    secrets = {"ALPHA_API_KEY": "key-5f0a9c1e77", "ALPHA_SECRET": "secret-d41d8cd98f"}
    env = service_env(redis_url, key_prefix, LOG_LEVEL="DEBUG", **secrets)
    put_desired(redis_client, keys, {"alpha": simulators["alpha"]})
    with started(worker_args(), env, tmp_path / "worker.log") as worker:
        enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], "alpha")
        wait_until(lambda: len(board(redis_client, keys, "alpha")) == SYMBOLS, 20, "ticks")
        simulators["alpha"].client.drop()  # errors and reconnects get logged too
        wait_until(lambda: _reconnects(redis_client, keys, "alpha") > 0, 10, "a reconnect")
        time.sleep(1.5)
    stored = b"".join(
        redis_client.hvals(keys.health_jobs()) + redis_client.hvals(keys.health_workers())
    )
    output = worker.output()
    assert "feed open" in output
    for value in secrets.values():
        assert value not in output
        assert value.encode() not in stored


def _reconnects(client: redis.Redis, keys: Keys, job_key: str) -> int:
    return int(json.loads(client.hget(keys.health_jobs(), job_key) or b"{}").get("reconnects", 0))


def _state(client: redis.Redis, keys: Keys, job_key: str) -> str:
    return str(json.loads(client.hget(keys.health_jobs(), job_key) or b"{}").get("state"))
