"""The actors on Dramatiq's StubBroker with a real Worker and a real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from service import actors
from service.beat.supervise import supervise
from service.broker import add_service_middleware
from service.desired import DesiredState
from service.keys import Keys
from service.running_jobs import Refusal
from service.simulator.testing import SimulatorThread
from workers.heartbeat import Heartbeat
from workers.spec import JobSpec

CAPACITY = 3


@pytest.fixture
def stub_worker(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StubBroker]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("STREAM_JOBS_PER_PROCESS", str(CAPACITY))
    monkeypatch.setenv("LEASE_TTL_S", "3")
    monkeypatch.setenv("HEARTBEAT_INTERVAL_S", "1")
    _clear_caches()
    broker = StubBroker()
    add_service_middleware(broker)
    broker.emit_after("process_boot")
    for actor in (actors.stream_exchange, actors.record_heartbeat):
        actor.broker = broker
        broker.declare_actor(actor)
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    yield broker
    worker.stop()
    _clear_caches()


def _clear_caches() -> None:
    for cached in (actors.settings, actors._sync_redis, actors.running_jobs):
        cached.cache_clear()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.05)


def jobs_ended() -> bool:
    return actors.running_jobs().count == 0


def test_record_heartbeat_keeps_the_latest_heartbeat_per_job(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis
) -> None:
    redis_client.hset(keys.desired(), "alpha", JobSpec("alpha", "alpha", "binance", ()).to_json())
    for ticks in (10, 20):
        beat = Heartbeat("alpha", "alpha", "w:1", "w", 1, "streaming", int(time.time() * 1000))
        beat.ticks_total = ticks
        actors.record_heartbeat.send(beat.to_dict())
        stub_worker.join(actors.HEALTH_QUEUE, fail_fast=True)
    stored = json.loads(redis_client.hget(keys.health_jobs(), "alpha") or b"{}")
    assert stored["ticks_total"] == 20


def test_a_malformed_heartbeat_is_dropped_not_retried(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis
) -> None:
    actors.record_heartbeat.send({"job_key": "alpha"})
    stub_worker.join(actors.HEALTH_QUEUE, fail_fast=True)
    assert redis_client.hget(keys.health_jobs(), "alpha") is None
    assert stub_worker.dead_letters == []


def test_a_duplicate_stream_message_finds_the_lease_taken_and_returns(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis
) -> None:
    redis_client.hset(keys.desired(), "alpha", JobSpec("alpha", "alpha", "binance", ()).to_json())
    redis_client.set(keys.lease("alpha"), "another-run", px=10_000)
    started = time.monotonic()
    with capture_logs() as logs:
        actors.stream_exchange.send("alpha")
        stub_worker.join(actors.STREAMS_QUEUE, fail_fast=True)
        wait_until(jobs_ended, 5, "the job to end")
    assert time.monotonic() - started < 5
    assert [line["reason"] for line in logs if line["event"] == "job ended"] == [
        "lease-held-elsewhere"
    ]
    assert redis_client.get(keys.lease("alpha")) == b"another-run"
    assert redis_client.hget(keys.health_jobs(), "alpha") is None


def test_the_lines_of_an_actor_and_of_its_job_carry_the_actor_and_the_job_key(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis
) -> None:
    redis_client.hset(keys.desired(), "alpha", JobSpec("alpha", "alpha", "binance", ()).to_json())
    redis_client.set(keys.lease("alpha"), "another-run", px=10_000)
    with capture_logs(processors=[merge_contextvars]) as logs:
        actors.stream_exchange.send("alpha")
        stub_worker.join(actors.STREAMS_QUEUE, fail_fast=True)
        wait_until(jobs_ended, 5, "the job to end")
        actors.record_heartbeat.send({"job_key": "beta"})
        stub_worker.join(actors.HEALTH_QUEUE, fail_fast=True)
    # "job ended" is logged on the event loop's thread, "heartbeat dropped" on a worker thread.
    ended = next(line for line in logs if line["event"] == "job ended")
    assert (ended["actor"], ended["job"], ended["reason"]) == (
        "stream_exchange",
        "alpha",
        "lease-held-elsewhere",
    )
    dropped = next(line for line in logs if line["event"] == "heartbeat dropped")
    assert (dropped["actor"], dropped["job"]) == ("record_heartbeat", "beta")


# ---------------------------------------------------------------- capacity


@pytest.fixture
def simulator() -> Iterator[SimulatorThread]:
    with SimulatorThread("binance", symbols=4, rate=10, seed=5) as sim:
        yield sim


def desire(client: redis.Redis, keys: Keys, sim: SimulatorThread, *names: str) -> None:
    """Desire one job per name, each its own exchange streamed from ``sim``."""
    symbols = tuple(sorted(sim.client.last()))
    # As the beat writes it (with the desired-state marker), so that removing one key
    # later stops that job instead of reading as a lost desired state.
    DesiredState(client, keys).put_many(
        JobSpec(name, name, "binance", symbols, ccxt_params=sim.ccxt_params) for name in names
    )
    client.set(keys.desired_marker(), "1")


def stream_a_full_process(
    broker: StubBroker, client: redis.Redis, keys: Keys, sim: SimulatorThread
) -> list[str]:
    """CAPACITY jobs sent, started and ticking; returns their job keys."""
    names = [f"ex{n}" for n in range(CAPACITY)]
    desire(client, keys, sim, *names)
    for name in names:
        actors.stream_exchange.send(name)
    # Every message is acked at once: the queue drains while the jobs stream on.
    broker.join(actors.STREAMS_QUEUE, fail_fast=True)
    wait_until(lambda: all(client.hlen(keys.board(n)) == 4 for n in names), 15, "ticks")
    return names


def test_one_process_streams_as_many_jobs_as_its_capacity_from_acked_messages(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis, simulator: SimulatorThread
) -> None:
    names = stream_a_full_process(stub_worker, redis_client, keys, simulator)
    tokens = {redis_client.get(keys.lease(name)) for name in names}
    assert None not in tokens and len(tokens) == CAPACITY  # each its own run's lease
    assert actors.running_jobs().job_keys() == names
    wait_until(lambda: redis_client.hlen(keys.health_workers()) == 1, 10, "a worker record")
    stub_worker.join(actors.HEALTH_QUEUE, fail_fast=True)
    record = json.loads(next(iter(redis_client.hvals(keys.health_workers()))))
    assert (record["running"], record["capacity"], record["jobs"]) == (CAPACITY, CAPACITY, names)


def test_a_full_process_declines_and_supervision_enqueues_the_job_again(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis, simulator: SimulatorThread
) -> None:
    desire(redis_client, keys, simulator, "extra")
    stream_a_full_process(stub_worker, redis_client, keys, simulator)
    redis_client.set(keys.pending("extra"), "1", px=60_000)  # as the beat's enqueue leaves it
    with capture_logs() as logs:
        actors.stream_exchange.send("extra")
        stub_worker.join(actors.STREAMS_QUEUE, fail_fast=True)
    declined = [line for line in logs if line["event"] == "stream not started"]
    assert [(d["why"], d["running"], d["capacity"]) for d in declined] == [
        ("full", CAPACITY, CAPACITY)
    ]
    assert not redis_client.exists(keys.lease("extra"), keys.pending("extra"))
    # A slot frees up (ex0 is no longer desired); the next pass sends "extra" again.
    DesiredState(redis_client, keys).remove("ex0")
    wait_until(lambda: "ex0" not in actors.running_jobs().job_keys(), 10, "ex0 to stop")
    passed = supervise(redis_client, keys, actors.stream_exchange.send, pending_ttl_s=60)
    assert passed.enqueued == ("extra",)
    stub_worker.join(actors.STREAMS_QUEUE, fail_fast=True)
    wait_until(lambda: redis_client.hlen(keys.board("extra")) == 4, 15, "extra's ticks")


def test_the_worker_stop_ends_every_job_with_its_lease_released_and_stopped_said(
    stub_worker: StubBroker, keys: Keys, redis_client: redis.Redis, simulator: SimulatorThread
) -> None:
    names = stream_a_full_process(stub_worker, redis_client, keys, simulator)
    started = time.monotonic()
    stub_worker.emit_before("worker_shutdown", None)  # what Worker.stop() does first
    assert time.monotonic() - started < actors.JOB_STOP_WAIT_S
    assert jobs_ended()
    assert not any(redis_client.exists(keys.lease(name)) for name in names)
    stub_worker.join(actors.HEALTH_QUEUE, fail_fast=True)
    states = {
        name: json.loads(redis_client.hget(keys.health_jobs(), name) or b"{}") for name in names
    }
    assert {name: beat.get("state") for name, beat in states.items()} == dict.fromkeys(
        names, "stopped"
    )
    record = json.loads(next(iter(redis_client.hvals(keys.health_workers()))))
    assert record["jobs"] == []
    # Once stopping, the process takes no job.
    loop = asyncio.new_event_loop()
    assert actors.running_jobs().start("late", "t", _never, loop) == Refusal.STOPPING
    loop.close()


async def _never() -> None:
    raise AssertionError("a refused job must not run")
