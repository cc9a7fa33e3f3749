"""The beat after Redis lost its data: the desired state is back at the next pass, no database.

Real Redis and SQLite. "Lost" is every key of the test's prefix deleted, as a
Redis restarted without persistence leaves them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
import redis

from service.beat.lock import BeatLock
from service.beat.runner import Beat
from service.beat.source import DatabaseSource
from service.db.snapshot import ExchangeSnapshot
from service.desired import DesiredState
from service.errors import DatabaseError
from service.keys import Keys
from tests.test_beat_runner import OPTIONS, Recorder, fill
from workers.spec import JobSpec

HOLD_OFF_S = 0.5


class Switchable:
    """The database source, until ``down`` is set: then every load fails."""

    def __init__(self, source: DatabaseSource) -> None:
        self.source = source
        self.down = False

    def __call__(self) -> Iterable[ExchangeSnapshot]:
        if self.down:
            raise DatabaseError("the database is away (test)")
        return self.source()


@pytest.fixture
def database(sqlite_url: str) -> Iterator[Switchable]:
    fill(sqlite_url, ("alpha", ("BTC/USDT",)), ("beta", ("ETH/USDT",)), ("gamma", ("BTC/USDT",)))
    source = DatabaseSource(sqlite_url)
    yield Switchable(source)
    source.close()


def lose_everything(client: redis.Redis, keys: Keys) -> None:
    for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
        client.delete(key)


def new_beat(client: redis.Redis, keys: Keys, load: Callable[[], Iterable[ExchangeSnapshot]],
             enqueue: Recorder, lock: BeatLock | None = None) -> Beat:  # fmt: skip
    options = dataclasses.replace(OPTIONS, restore_hold_off_s=HOLD_OFF_S)
    return Beat(client=client, keys=keys, load=load, enqueue=enqueue, options=options,
                beat_id="test-beat", lock=lock)  # fmt: skip


def reconciled_then_lost(
    database: Switchable, client: redis.Redis, keys: Keys, enqueue: Recorder
) -> tuple[Beat, dict[str, JobSpec]]:
    """A beat that reconciled (and enqueued) once; then Redis lost everything.

    Returns the beat and the desired state it had written."""
    beat = new_beat(client, keys, database, enqueue)
    beat.reconcile_pass()
    desired = DesiredState(client, keys)
    before = desired.all()
    assert sorted(enqueue.calls) == ["alpha", "beta", "gamma"] and desired.present()
    lose_everything(client, keys)
    enqueue.calls.clear()
    return beat, before


def test_a_supervision_pass_restores_a_lost_desired_state_without_the_database(
    database: Switchable, redis_client: redis.Redis, keys: Keys
) -> None:
    enqueue = Recorder()
    beat, before = reconciled_then_lost(database, redis_client, keys, enqueue)
    desired = DesiredState(redis_client, keys)
    database.down = True
    status = beat.supervise_pass()
    assert status is not None and status.outcome == "ok", status
    assert desired.all() == before and desired.present()  # the same generations
    assert int(redis_client.get(keys.generation()) or 0) >= max(
        s.generation for s in before.values()
    )
    # Held off: the jobs still streaming take their leases back first.
    assert enqueue.calls == []
    assert 0 < redis_client.pttl(keys.pending("alpha")) <= HOLD_OFF_S * 1000
    redis_client.set(keys.lease("alpha"), "the-run-that-kept-streaming", px=4000)
    time.sleep(HOLD_OFF_S + 0.1)
    beat.supervise_pass()
    assert sorted(enqueue.calls) == ["beta", "gamma"]


def test_a_reconcile_after_the_loss_plans_against_the_restored_state(
    database: Switchable, redis_client: redis.Redis, keys: Keys
) -> None:
    beat, before = reconciled_then_lost(database, redis_client, keys, Recorder())
    status = beat.reconcile_pass()
    assert status is not None and status.outcome == "ok", status
    # Nothing was rewritten with new generations: the memory came back first.
    assert DesiredState(redis_client, keys).all() == before


def test_a_reconcile_that_finds_no_marker_writes_the_whole_state_with_it(
    database: Switchable, redis_client: redis.Redis, keys: Keys
) -> None:
    # A desired state written before the marker existed (or by a beat that
    # remembers nothing): the first reconcile marks it without renumbering.
    first = new_beat(redis_client, keys, database, Recorder())
    first.reconcile_pass()
    redis_client.delete(keys.desired_marker())
    desired = DesiredState(redis_client, keys)
    before = desired.all()
    new_beat(redis_client, keys, database, Recorder()).reconcile_pass()
    assert desired.present() and desired.all() == before


def test_a_beat_that_lost_its_lock_to_another_never_restores_what_it_remembered(
    database: Switchable, redis_client: redis.Redis, keys: Keys
) -> None:
    lock = BeatLock(redis_client, keys.beat_lock(), "test-beat", ttl_s=5)
    beat = new_beat(redis_client, keys, database, Recorder(), lock=lock)
    assert beat.lock_tick()
    beat.reconcile_pass()
    redis_client.set(keys.beat_lock(), "another-beat", px=5000)  # it took over
    assert not beat.lock_tick()
    lose_everything(redis_client, keys)  # the other beat's lock with the rest
    database.down = True
    assert beat.lock_tick()
    beat.supervise_pass()  # the due reconcile fails on the database; nothing stale written
    assert not DesiredState(redis_client, keys).present()
    assert redis_client.hlen(keys.desired()) == 0
