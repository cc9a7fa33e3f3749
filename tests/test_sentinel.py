"""REDIS_URL naming a Sentinel set: the clients, the broker and the whole service follow a
failover to the promoted replica (real redis-servers, three of them Sentinels)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from dramatiq import Message
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.procs import BIN, service_env, started, worker_args
from service.broker import build_broker
from service.devrun.ports import LOOPBACK
from service.keys import Keys
from service.redis_client import async_client, sync_client
from service.settings import Settings
from service.simulator.testing import SimulatorProcess
from tests.sentinel_cluster import SERVICE_NAME, Auth, SentinelCluster, sentinel_cluster
from tests.test_e2e_beat import cli
from tests.test_e2e_health import status
from tests.test_e2e_workers import board, wait_until
from workers.lease import Lease
from workers.states import LeaseHold

RESUME_WITHIN_S = 30.0


@pytest.fixture
def cluster() -> Iterator[SentinelCluster]:
    with sentinel_cluster(replicas=1) as running:
        yield running


def fail_over(cluster: SentinelCluster) -> int:
    """SIGKILL the master; returns the port of the replica the Sentinels promote."""
    old = cluster.master_port
    cluster.kill(old)
    started_at = time.monotonic()
    wait_until(lambda: cluster.master_port_by_sentinels() not in (old, None), 20, "a new master")
    new = cluster.master_port_by_sentinels()
    print(f"Sentinels promoted :{new} {time.monotonic() - started_at:.1f}s after SIGKILL")
    assert new in cluster.replica_ports
    return int(new or 0)


def writes(client: redis.Redis, key: str) -> bool:
    try:
        return bool(client.set(key, "1"))
    except redis.RedisError:
        return False  # the old master's connection fails once; the next asks the Sentinels


def test_sync_and_asyncio_clients_and_the_broker_follow_a_failover(
    cluster: SentinelCluster,
) -> None:
    settings = Settings.from_env({"REDIS_URL": cluster.url(db=2)})
    client = sync_client(settings.redis_url)
    loop = asyncio.new_event_loop()
    aclient = async_client(settings.redis_url)
    broker = build_broker(settings)
    broker.declare_queue("health")
    try:
        assert client.set("before", "1") and loop.run_until_complete(aclient.set("abefore", "1"))
        broker.enqueue(Message("health", "record_heartbeat", (), {}, {}))
        # Replication is asynchronous: what the replica lacks at the kill is lost.
        with cluster.server(cluster.replica_ports[0], db=2) as replica:
            wait_until(lambda: replica.llen("dramatiq:health") == 1, 5, "replication")
            assert replica.exists("before", "abefore") == 2
        new = fail_over(cluster)

        wait_until(lambda: writes(client, "after"), RESUME_WITHIN_S, "a sync write")
        wait_until(
            lambda: loop.run_until_complete(_async_writes(aclient, "aafter")),
            RESUME_WITHIN_S,
            "an asyncio write",
        )
        broker.enqueue(Message("health", "record_heartbeat", (), {}, {}))
        with cluster.server(new, db=2) as promoted:
            assert promoted.mget("before", "after", "abefore", "aafter") == [b"1"] * 4
            assert promoted.llen("dramatiq:health") == 2
    finally:
        broker.close()
        client.close()
        loop.run_until_complete(aclient.aclose())
        loop.close()


def test_a_demoted_master_is_left_for_the_new_one_on_a_manual_failover(
    cluster: SentinelCluster,
) -> None:
    # The old master stays up as a replica: old connections get READONLY, which
    # redis-py turns into a reconnect through the Sentinels (a lease renewal included).
    client = sync_client(cluster.url())
    loop = asyncio.new_event_loop()
    lease = Lease(async_client(cluster.url()), "lease", ttl_ms=15_000)
    try:
        assert client.set("before", "1") and loop.run_until_complete(lease.acquire())
        old = cluster.master_port
        with cluster.server(cluster.sentinel_ports[0]) as sentinel:
            sentinel.sentinel_failover(SERVICE_NAME)
        new = cluster.replica_ports[0]
        wait_until(lambda: cluster.sentinels_agree_on(new), 20, "the promotion")
        # What Sentinel does within ~10 s, at once and without closing the clients' connections.
        with cluster.server(old) as demoted:
            demoted.replicaof(LOOPBACK, str(new))
        assert cluster.role(old) == "slave"
        # Each old connection fails once ("The previous master is now a slave"); the
        # next one is made to the master the Sentinels name. Callers retry (the job does).
        writes = [_outcome(lambda: client.set("after", "1")) for _ in range(2)]
        renewals = [_outcome(lambda: loop.run_until_complete(lease.renew())) for _ in range(2)]
        assert writes[-1] is True and renewals[-1] == LeaseHold.RENEWED, (writes, renewals)
        with cluster.server(new) as promoted:
            assert promoted.get("after") == b"1" and promoted.get("lease") is not None
    finally:
        client.close()
        loop.run_until_complete(lease.client.aclose())
        loop.close()


def test_the_master_password_and_the_sentinels_password_each_go_where_they_belong() -> None:
    with sentinel_cluster(replicas=1, auth=Auth(master="m@ster pw", sentinels="s&ntinel")) as c:
        url = Settings.from_env({"REDIS_URL": c.url()}).redis_url
        client = sync_client(url)
        loop = asyncio.new_event_loop()
        aclient = async_client(url)
        try:
            assert client.set("k", "1") and loop.run_until_complete(aclient.get("k")) == b"1"
            broker = build_broker(Settings(redis_url=url))
            broker.enqueue(Message("health", "record_heartbeat", (), {}, {}))
            assert client.llen("dramatiq:health") == 1
            broker.close()
            without = url.split("?")[0]  # the Sentinels refuse us: no master is found
            with pytest.raises(redis.ConnectionError, match="AuthenticationError") as error:
                sync_client(without, retry=Retry(NoBackoff(), 0)).ping()
            once = AsyncRetry(NoBackoff(), 0)
            with pytest.raises(redis.ConnectionError) as async_error:
                loop.run_until_complete(async_client(without, retry=once).ping())
            for message in (str(error.value), str(async_error.value)):
                # One line naming the Sentinels asked, not redis-py's repr of each client.
                assert message.startswith("no master 'mymaster' from the Sentinels at 127.")
                assert len(message) < 200 and "s&ntinel" not in message
        finally:
            client.close()
            loop.run_until_complete(aclient.aclose())
            loop.close()


def test_a_dead_sentinel_first_in_the_url_costs_no_time(cluster: SentinelCluster) -> None:
    # Often the Sentinel beside the lost master goes with it (redis-py's default retries
    # spent about 3 s on it for every new connection).
    cluster.kill(cluster.sentinel_ports[0])
    started_at = time.monotonic()
    client = sync_client(cluster.url())
    loop = asyncio.new_event_loop()
    aclient = async_client(cluster.url())
    try:
        assert client.ping() and loop.run_until_complete(aclient.ping())
        assert time.monotonic() - started_at < 0.5
    finally:
        client.close()
        loop.run_until_complete(aclient.aclose())
        loop.close()


def _outcome(call: Callable[[], object]) -> object:
    try:
        return call()
    except redis.ConnectionError as exc:
        return f"{type(exc).__name__}: {exc}"


async def _async_writes(client: redis.asyncio.Redis, key: str) -> bool:
    try:
        return bool(await client.set(key, "1"))
    except redis.RedisError:
        return False


def healthy(env: dict[str, str]) -> bool:
    code, _report = status(env)
    return code == 0


def recovered(env: dict[str, str], since_ms: float) -> bool:
    """``status`` healthy from facts written after ``since_ms``: a heartbeat, a beat pass."""
    code, report = status(env)
    if code != 0 or not report["beat"]["ok"]:
        return False
    job = next(j for j in report["jobs"] if j["job_key"] == "alpha")
    heartbeat_at = report["at"] - (job["heartbeat_age_s"] or 1e9) * 1000
    return heartbeat_at > since_ms and (report["beat"]["supervise"]["at"] or 0) > since_ms


@pytest.mark.e2e
def test_streaming_resumes_on_the_promoted_replica_after_the_master_is_killed(
    cluster: SentinelCluster, sqlite_url: str, tmp_path: Path
) -> None:
    env = service_env(cluster.url(), "sentinel-e2e", DATABASE_URL=sqlite_url)
    del env["LEASE_TTL_S"]  # the default lease: a failover must not cost the job its lease
    keys = Keys("sentinel-e2e")
    with SimulatorProcess("binance", symbols=10, rate=5, seed=51) as sim:
        cli(env, "db", "upgrade")
        params = json.dumps(sim.ccxt_params)
        cli(env, "exchanges", "add", "alpha", "--ccxt-id", "binance", "--params", params)
        cli(env, "symbols", "add", "alpha", *sorted(sim.client.last()))
        with (
            started(worker_args(), env, tmp_path / "worker.log"),
            started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"),
        ):
            client = sync_client(cluster.url())
            wait_until(lambda: len(board(client, keys, "alpha")) == 10, 30, "first ticks")
            wait_until(lambda: healthy(env), 20, "status healthy before the failover")

            killed_at_ms = time.time() * 1000
            new = fail_over(cluster)
            promoted = cluster.server(new)
            gap = wait_until(
                lambda: _ticked_since(promoted, keys, killed_at_ms), RESUME_WITHIN_S, "ticks"
            )
            print(f"ticks on the promoted master {gap:.1f}s after the failover was seen")
            took = wait_until(lambda: recovered(env, killed_at_ms), RESUME_WITHIN_S, "healthy")
            print(f"status healthy {(time.time() * 1000 - killed_at_ms) / 1000:.1f}s after SIGKILL")
            assert took < RESUME_WITHIN_S

            # Nothing points at the dead master: an edit wakes the beat, which enqueues
            # through the broker, and a worker consumer takes the new job.
            cli(env, "exchanges", "add", "beta", "--ccxt-id", "binance", "--params", params)
            cli(env, "symbols", "add", "beta", *sorted(sim.client.last())[:3])
            wait_until(lambda: len(board(promoted, keys, "beta")) == 3, 20, "a new job after")
            client.close()


def _ticked_since(client: redis.Redis, keys: Keys, since_ms: float) -> bool:
    try:
        ticks = board(client, keys, "alpha").values()
    except redis.RedisError:
        return False
    return len(ticks) == 10 and all(t["received_at"] > since_ms for t in ticks)
