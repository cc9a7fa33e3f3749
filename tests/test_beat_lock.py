"""The beat lock against a real Redis: one holder at a time, takeover when it stops renewing."""

from __future__ import annotations

import time

import redis

from service.beat.lock import BeatLock, lock_ttl_s
from service.keys import Keys


def test_only_one_of_two_beats_holds_the_lock(redis_client: redis.Redis, keys: Keys) -> None:
    first = BeatLock(redis_client, keys.beat_lock(), "first", ttl_s=5)
    second = BeatLock(redis_client, keys.beat_lock(), "second", ttl_s=5)
    assert first.hold() is True
    assert second.hold() is False
    assert first.hold() is True  # renewal by the holder
    assert redis_client.get(keys.beat_lock()) == b"first"


def test_renewing_extends_the_holders_ttl(redis_client: redis.Redis, keys: Keys) -> None:
    lock = BeatLock(redis_client, keys.beat_lock(), "me", ttl_s=5)
    lock.hold()
    redis_client.pexpire(keys.beat_lock(), 100)
    assert lock.hold() is True
    assert redis_client.pttl(keys.beat_lock()) > 4_000


def test_a_standby_takes_over_within_one_ttl_after_the_holder_stops_renewing(
    redis_client: redis.Redis, keys: Keys
) -> None:
    holder = BeatLock(redis_client, keys.beat_lock(), "holder", ttl_s=0.3)
    standby = BeatLock(redis_client, keys.beat_lock(), "standby", ttl_s=0.3)
    assert holder.hold() and not standby.hold()
    started = time.monotonic()
    while not standby.hold():
        time.sleep(0.02)
    assert time.monotonic() - started < 0.45
    assert holder.hold() is False  # the old holder does not steal it back


def test_release_drops_only_a_lock_this_beat_holds(redis_client: redis.Redis, keys: Keys) -> None:
    first = BeatLock(redis_client, keys.beat_lock(), "first", ttl_s=5)
    second = BeatLock(redis_client, keys.beat_lock(), "second", ttl_s=5)
    first.hold()
    assert second.release() is False
    assert first.release() is True
    assert second.hold() is True


def test_the_lock_ttl_spans_three_supervision_intervals() -> None:
    assert lock_ttl_s(5) == 15
    assert lock_ttl_s(0.5) == 3
