"""The actors on Dramatiq's StubBroker with a real Worker and a real Redis."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from service import actors
from service.broker import add_service_middleware
from service.keys import Keys
from workers.heartbeat import Heartbeat
from workers.spec import JobSpec


@pytest.fixture
def stub_worker(
    redis_url: str, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StubBroker]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)
    actors.settings.cache_clear()
    actors._sync_redis.cache_clear()
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
    actors.settings.cache_clear()
    actors._sync_redis.cache_clear()


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
    actors.stream_exchange.send("alpha")
    stub_worker.join(actors.STREAMS_QUEUE, fail_fast=True)
    assert time.monotonic() - started < 5
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
