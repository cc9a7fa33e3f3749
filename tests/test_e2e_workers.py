"""End to end: real ``dramatiq service.workers`` processes streaming from simulator processes."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.procs import ServiceProcess, enqueue_stream, service_env, started, worker_args
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from workers.spec import JobSpec

pytestmark = pytest.mark.e2e
SYMBOLS = 50


def board(client: redis.Redis, keys: Keys, exchange: str) -> dict[str, dict]:
    """One exchange's stored ticks by symbol, as JSON."""
    return {k.decode(): json.loads(v) for k, v in client.hgetall(keys.board(exchange)).items()}


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> float:
    started_at = time.monotonic()
    while time.monotonic() - started_at < timeout_s:
        if check():
            return time.monotonic() - started_at
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture
def simulators() -> Iterator[dict[str, SimulatorProcess]]:
    with (
        SimulatorProcess("binance", symbols=SYMBOLS, rate=5, seed=21) as one,
        SimulatorProcess("okx", symbols=SYMBOLS, rate=5, seed=22) as two,
    ):
        yield {"alpha": one, "beta": two}


@dataclass
class Stack:
    """A test's Redis, key prefix, log folder and simulators, and how to start workers."""

    redis_url: str
    key_prefix: str
    keys: Keys
    client: redis.Redis
    tmp_path: Path
    sims: dict[str, SimulatorProcess]

    def env(self, **extra: str) -> dict[str, str]:
        return service_env(self.redis_url, self.key_prefix, **extra)

    def put_desired(self, *names: str) -> None:
        """Desire the simulators ``names`` (all of them when none is given)."""
        for name in names or tuple(self.sims):
            spec = JobSpec(
                job_key=name,
                exchange=name,
                ccxt_id=self.sims[name].protocol,
                symbols=tuple(_symbols(self.sims[name])),
                ccxt_params=self.sims[name].ccxt_params,
                generation=1,
            )
            self.client.hset(self.keys.desired(), name, spec.to_json())

    def worker(
        self, log_name: str, args: list[str] | None = None, **env: str
    ) -> AbstractContextManager[ServiceProcess]:
        return started(args or worker_args(), self.env(**env), self.tmp_path / log_name)

    def enqueue(self, job_key: str) -> None:
        enqueue_stream(self.redis_url, self.env()["DRAMATIQ_NAMESPACE"], job_key)

    def board(self, exchange: str) -> dict[str, dict]:
        return board(self.client, self.keys, exchange)

    def health(self, job_key: str) -> dict[str, Any]:
        return dict(json.loads(self.client.hget(self.keys.health_jobs(), job_key) or b"{}"))


@pytest.fixture
def stack(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    tmp_path: Path,
    simulators: dict[str, SimulatorProcess],
) -> Stack:
    return Stack(redis_url, key_prefix, keys, redis_client, tmp_path, simulators)


def _symbols(sim: SimulatorProcess) -> list[str]:
    return sorted(sim.client.last())


def test_two_workers_stream_two_exchanges_and_store_the_last_values(stack: Stack) -> None:
    simulators = stack.sims
    stack.put_desired()
    with stack.worker("w1.log") as w1, stack.worker("w2.log") as w2:
        started_at = time.monotonic()
        for name in simulators:
            stack.enqueue(name)
        for name, sim in simulators.items():
            wanted = set(_symbols(sim))
            wait_until(lambda: wanted <= set(stack.board(name)), 10, name)  # noqa: B023
        print(f"every symbol ticked after {time.monotonic() - started_at:.1f}s")
        # A duplicate message finds the lease taken and returns: still one connection each.
        connections = {n: s.client.state()["connections_total"] for n, s in simulators.items()}
        for name in simulators:
            stack.enqueue(name)
        time.sleep(2)
        assert {
            n: s.client.state()["connections_total"] for n, s in simulators.items()
        } == connections
        for sim in simulators.values():
            sim.client.pause()
        time.sleep(1.0)
        for name, sim in simulators.items():
            sent, stored = sim.client.last(), stack.board(name)
            assert {s: (t["bid"], t["ask"], t["last"]) for s, t in sent.items()} == {
                s: (stored[s]["bid"], stored[s]["ask"], stored[s]["last"]) for s in sent
            }
        assert w1.proc.poll() is None and w2.proc.poll() is None


@pytest.mark.parametrize(
    "signals",
    ["one", "group", "late-duplicate"],
    ids=["sigterm", "double-sigterm", "late-duplicate-sigterm"],
)
def test_sigterm_releases_the_lease_and_reports_stopped_within_ten_seconds(
    signals: str, stack: Stack
) -> None:
    stack.put_desired("alpha")
    # As in the Procfile: heartbeats have a worker of their own, which records the
    # final "stopped" heartbeat the streaming worker sends as it shuts down.
    health = stack.worker("health.log", worker_args(2, ("health",)))
    with health, stack.worker("worker.log", worker_args(4, ("streams",))) as worker:
        stack.enqueue("alpha")
        wait_until(lambda: stack.client.exists(stack.keys.lease("alpha")) == 1, 20, "the lease")
        wait_until(lambda: len(stack.board("alpha")) == SYMBOLS, 20, "ticks")
        wait_until(lambda: "pid" in stack.health("alpha"), 20, "a heartbeat")
        started_at = time.monotonic()
        _send_sigterm(signals, worker.pid, stack.health("alpha")["pid"])
        worker.proc.wait(10)
        stopped_after = time.monotonic() - started_at
        print(f"exited {stopped_after:.1f}s after SIGTERM")
        assert stack.client.exists(stack.keys.lease("alpha")) == 0, worker.output()[-3000:]
        wait_until(lambda: stack.health("alpha").get("state") == "stopped", 15, "stopped")
        assert "Killing worker process" not in worker.output()


def _send_sigterm(signals: str, main_pid: int, child_pid: int) -> None:
    """A process-group kill gives the worker child two SIGTERMs (its own and the one
    its parent forwards): the platforms' way, and still a graceful stop. Sent at once
    the two often merge into one pending signal; "late-duplicate" sends the child's
    own after the forwarded one was handled, which only the debounce survives."""
    if signals == "group":
        os.killpg(main_pid, signal.SIGTERM)
        return
    os.kill(main_pid, signal.SIGTERM)
    if signals == "late-duplicate":
        time.sleep(0.3)
        os.kill(child_pid, signal.SIGTERM)


def test_credentials_reach_ccxt_but_never_a_log_line_or_a_heartbeat(stack: Stack) -> None:
    secrets = {"ALPHA_API_KEY": "key-5f0a9c1e77", "ALPHA_SECRET": "secret-d41d8cd98f"}
    stack.put_desired("alpha")
    with stack.worker("worker.log", LOG_LEVEL="DEBUG", **secrets) as worker:
        stack.enqueue("alpha")
        wait_until(lambda: len(stack.board("alpha")) == SYMBOLS, 20, "ticks")
        stack.sims["alpha"].client.drop()  # errors and reconnects get logged too
        wait_until(lambda: stack.health("alpha").get("reconnects", 0) > 0, 10, "a reconnect")
        time.sleep(1.5)
    keys = stack.keys
    stored = b"".join(
        stack.client.hvals(keys.health_jobs()) + stack.client.hvals(keys.health_workers())
    )
    output = worker.output()
    assert "feed open" in output
    for value in secrets.values():
        assert value not in output
        assert value.encode() not in stored
