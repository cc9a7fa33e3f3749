"""``ticker-service dev`` on a Sentinel set: it uses it, follows a failover, and never
swaps an unreachable set for a private Redis."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from service.devrun.ports import free_port
from service.keys import Keys
from service.redis_client import sync_client
from tests.sentinel_cluster import SentinelCluster, sentinel_cluster
from tests.test_dev_runner import (
    TICKING_WITHIN_S,
    DevRunner,
    demo_symbols,
    healthz,
    seconds_until_ticking,
    status_json,
)
from tests.test_e2e_workers import board, wait_until
from tests.test_sentinel import RESUME_WITHIN_S, fail_over

pytestmark = pytest.mark.e2e


def dev_env(**extra: str) -> dict[str, str]:
    own = ("TICKER_KEY_PREFIX", "DRAMATIQ_NAMESPACE")  # the dev run uses the defaults
    return {**{k: v for k, v in os.environ.items() if k not in own}, **extra}


@pytest.fixture
def cluster() -> Iterator[SentinelCluster]:
    with sentinel_cluster(replicas=1) as running:
        yield running


def test_dev_on_a_sentinel_set_streams_on_through_a_failover(
    cluster: SentinelCluster, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'dev.db'}"
    web_port = free_port()
    args = ["--web-port", str(web_port), "--symbols", "6"]
    dev = DevRunner(args, dev_env(REDIS_URL=cluster.url(), DATABASE_URL=database_url))
    client = sync_client(cluster.url())
    try:
        dev.wait_for(r"using the Redis at redis\+sentinel://")
        dev.wait_for(r"redis:\s+HGETALL \S+ on the master")
        symbols = demo_symbols(database_url)
        seconds_until_ticking(client, Keys(), symbols, dev.started_at, TICKING_WITHIN_S)

        killed_at, killed_at_ms = time.monotonic(), time.time() * 1000
        fail_over(cluster)
        wait_until(
            lambda: all(_ticked_since(client, name, killed_at_ms) for name in symbols),
            RESUME_WITHIN_S,
            "ticks on the promoted master",
        )
        status = status_json(cluster.url(), RESUME_WITHIN_S)
        wait_until(lambda: healthz(web_port)[0] == 200, RESUME_WITHIN_S, "/healthz 200")
        print(f"dev run healthy again {time.monotonic() - killed_at:.1f}s after SIGKILL")
        assert {job["state"] for job in status["jobs"]} == {"up"}
        assert dev.proc.poll() is None, dev.output()
    finally:
        client.close()
        dev.close()


def _ticked_since(client: redis.Redis, exchange: str, since_ms: float) -> bool:
    try:
        ticks = board(client, Keys(), exchange).values()
    except redis.RedisError:
        return False
    return any(tick["received_at"] > since_ms for tick in ticks)


def test_dev_refuses_to_replace_an_unreachable_sentinel_set_with_its_own_redis(
    tmp_path: Path,
) -> None:
    url = f"redis+sentinel://:secret@127.0.0.1:{free_port()}/mymaster/0"
    dev = DevRunner([], dev_env(REDIS_URL=url, DATABASE_URL=f"sqlite:///{tmp_path / 'd.db'}"))
    try:
        assert dev.proc.wait(30) == 1
        dev.wait_for(r"no master answers through these Sentinels")
        assert "started redis" not in dev.output() and "secret" not in dev.output()
    finally:
        dev.close()
