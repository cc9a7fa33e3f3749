"""End to end: Redis SIGKILLed and started again empty on its port, default settings.

Real parts: a private redis-server, two ``dramatiq service.workers`` processes,
a ``ticker-scheduler``, a simulator process, SQLite seeded through the CLI.
Every job must stream again within 10 s of Redis answering, still by the run
that held it before (its lease token), and ``status`` must say healthy; an
exchange added afterwards streams too (the beat's enqueue and the workers'
consumers reconnected on their own).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, started, worker_args
from bench.redis_server import RedisServer
from service.keys import Keys
from service.settings import Settings
from service.simulator.testing import SimulatorProcess
from tests.e2e_defaults import add_exchange, cli, default_env, healthy, ticking_since, wall_ms
from tests.test_e2e_workers import wait_until

pytestmark = pytest.mark.e2e
JOBS = ("alpha", "beta")
BOUND_S = 10.0  # of Redis answering: streaming and healthy again


@pytest.fixture
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess("binance", symbols=12, rate=5, seed=51) as running:
        yield running


def test_every_job_streams_again_within_10_s_of_an_empty_redis_answering(
    sim: SimulatorProcess, key_prefix: str, sqlite_url: str, tmp_path: Path
) -> None:
    symbols = sorted(sim.client.last())
    wanted = {"alpha": symbols[:6], "beta": symbols[6:], "gamma": symbols[:3]}
    keys = Keys(key_prefix)
    with RedisServer() as server, ExitStack() as stack:
        env = default_env(server.url, key_prefix, sqlite_url)
        assert cli(env, "db", "upgrade").returncode == 0
        for job in JOBS:
            add_exchange(env, job, sim, wanted[job])
        client = redis.Redis.from_url(server.url)
        stack.callback(client.close)
        for name in ("w1", "w2"):
            stack.enter_context(started(worker_args(), env, tmp_path / f"{name}.log"))
        stack.enter_context(started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"))
        for job in JOBS:
            wait_until(lambda j=job: ticking_since(client, keys, j, wanted[j], 0), 30, job)
        wait_until(lambda: healthy(env), 20, "healthy before the loss")
        tokens = {job: client.get(keys.lease(job)) for job in JOBS}

        server.kill()
        # Longer than the lease ttl: jobs used to stop here. They keep their feeds.
        time.sleep(Settings().lease_ttl_s + 1)
        answered_at, answered_ms = server.start(), wall_ms()
        seen = Holders(client, keys, tokens)
        for job in JOBS:
            fresh = lambda j=job: ticking_since(client, keys, j, wanted[j], answered_ms)  # noqa: E731
            wait_until(lambda f=fresh: seen.check() and f(), BOUND_S, f"{job} streaming again")
        streaming_s = time.monotonic() - answered_at
        wait_until(lambda: seen.check() and healthy(env), BOUND_S, "status healthy")
        healthy_s = time.monotonic() - answered_at
        print(f"after Redis answered: streaming {streaming_s:.1f}s, healthy {healthy_s:.1f}s")
        assert healthy_s <= BOUND_S
        assert {job: client.get(keys.lease(job)) for job in JOBS} == tokens, seen.others

        # The beat's enqueue and the workers' consumers reconnected on their own.
        add_exchange(env, "gamma", sim, wanted["gamma"])
        added = wall_ms()
        gamma = lambda: ticking_since(client, keys, "gamma", wanted["gamma"], added)  # noqa: E731
        wait_until(gamma, 15, "gamma, added after the loss")


class Holders:
    """Watches each job's lease: only the run that held it before may hold it again."""

    def __init__(self, client: redis.Redis, keys: Keys, tokens: dict[str, bytes | None]) -> None:
        self.client, self.keys, self.tokens = client, keys, tokens
        self.others: list[tuple[str, bytes]] = []

    def check(self) -> bool:
        for job, token in self.tokens.items():
            held = self.client.get(self.keys.lease(job))
            if held not in (None, token):
                self.others.append((job, held))
        assert not self.others, f"another run took a lease: {self.others}"
        return True
