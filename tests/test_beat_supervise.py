"""Supervision against a real Redis: enqueue what has neither a lease nor a pending marker."""

from __future__ import annotations

import time

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from service.beat.supervise import pending_ttl_s, supervise
from service.desired import DesiredState
from service.keys import Keys
from service.queues import STREAMS_QUEUE
from workers.spec import JobSpec


class Recorder:
    """An enqueue step that records the job keys it was given."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, job_key: str) -> None:
        self.calls.append(job_key)


def put_jobs(client: redis.Redis, keys: Keys, *job_keys: str) -> None:
    DesiredState(client, keys).put_many(
        JobSpec(job_key=k, exchange=k.split("#")[0], ccxt_id="binance", symbols=("BTC/USDT",))
        for k in job_keys
    )


def test_a_desired_job_without_lease_is_enqueued_once_and_marked_pending(
    redis_client: redis.Redis, keys: Keys
) -> None:
    put_jobs(redis_client, keys, "a")
    enqueue = Recorder()
    done = supervise(redis_client, keys, enqueue, pending_ttl_s=60)
    assert enqueue.calls == ["a"] and done.enqueued == ("a",) and done.jobs == 1
    assert 59_000 < redis_client.pttl(keys.pending("a")) <= 60_000


def test_repeated_passes_never_pile_up_messages_while_the_marker_lives(
    redis_client: redis.Redis, keys: Keys
) -> None:
    put_jobs(redis_client, keys, "a", "b")
    enqueue = Recorder()
    for _ in range(3):
        supervise(redis_client, keys, enqueue, pending_ttl_s=60)
    assert sorted(enqueue.calls) == ["a", "b"]


def test_a_job_with_a_live_lease_is_not_enqueued(redis_client: redis.Redis, keys: Keys) -> None:
    put_jobs(redis_client, keys, "a", "b")
    redis_client.set(keys.lease("a"), "some-run", px=15_000)
    enqueue = Recorder()
    supervise(redis_client, keys, enqueue, pending_ttl_s=60)
    assert enqueue.calls == ["b"]


def test_a_job_is_enqueued_again_once_its_marker_expired_and_no_lease_appeared(
    redis_client: redis.Redis, keys: Keys
) -> None:
    put_jobs(redis_client, keys, "a")
    enqueue = Recorder()
    supervise(redis_client, keys, enqueue, pending_ttl_s=0.05)
    time.sleep(0.1)
    supervise(redis_client, keys, enqueue, pending_ttl_s=0.05)
    assert enqueue.calls == ["a", "a"]


def test_a_failed_enqueue_drops_its_marker_so_the_next_pass_retries(
    redis_client: redis.Redis, keys: Keys
) -> None:
    put_jobs(redis_client, keys, "a")

    def broken(job_key: str) -> None:
        raise ConnectionError("broker away")

    done = supervise(redis_client, keys, broken, pending_ttl_s=60)
    assert done.enqueued == () and done.failed == (("a", "ConnectionError: broker away"),)
    assert not redis_client.exists(keys.pending("a"))
    assert supervise(redis_client, keys, Recorder(), pending_ttl_s=60).enqueued == ("a",)


def test_supervision_sends_real_messages_through_a_stub_broker(
    redis_client: redis.Redis, keys: Keys
) -> None:
    broker = StubBroker()
    actor = dramatiq.actor(lambda job_key: None, actor_name="stream_exchange",
                           queue_name=STREAMS_QUEUE, broker=broker)  # fmt: skip
    put_jobs(redis_client, keys, "a", "b#0")
    for _ in range(2):
        supervise(redis_client, keys, actor.send, pending_ttl_s=60)
    messages = list(broker.queues[STREAMS_QUEUE].queue)
    assert len(messages) == 2
    broker.close()


@pytest.mark.parametrize("jobs", [100, 500])
def test_supervising_many_jobs_takes_at_most_50_ms(
    redis_client: redis.Redis, keys: Keys, jobs: int
) -> None:
    put_jobs(redis_client, keys, *[f"ex{i}" for i in range(jobs)])
    supervise(redis_client, keys, Recorder(), pending_ttl_s=60)  # all now pending
    started = time.perf_counter()
    done = supervise(redis_client, keys, Recorder(), pending_ttl_s=60)
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert done.jobs == jobs and done.enqueued == ()
    assert elapsed_ms <= 50, f"{elapsed_ms:.1f} ms for {jobs} jobs"


def test_the_pending_ttl_is_a_few_lease_ttls_and_at_least_30_seconds() -> None:
    assert pending_ttl_s(15) == 60
    assert pending_ttl_s(2) == 30
