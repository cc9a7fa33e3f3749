"""DesiredState against a real Redis: generations move only when content changes; the marker."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
import redis.asyncio as aioredis

from service.desired import DesiredState, load_spec
from service.errors import StoreError
from service.keys import Keys
from workers.spec import JobSpec
from workers.states import SpecMissing


def spec(key: str = "binance", symbols: tuple[str, ...] = ("BTC/USDT",)) -> JobSpec:
    return JobSpec(job_key=key, exchange=key.split("#")[0], ccxt_id="binance", symbols=symbols)


@pytest.fixture
def desired(redis_client: redis.Redis, keys: Keys) -> DesiredState:
    return DesiredState(redis_client, keys)


def test_a_new_spec_is_stored_with_a_fresh_generation(desired: DesiredState) -> None:
    stored = desired.put(spec())
    assert stored.generation == 1
    assert desired.get("binance") == stored
    assert desired.all() == {"binance": stored}


def test_putting_the_same_content_again_keeps_the_generation(
    desired: DesiredState, redis_client: redis.Redis, keys: Keys
) -> None:
    first = desired.put(spec())
    again = desired.put(replace(spec(), generation=99))
    assert again == first
    assert int(redis_client.get(keys.generation()) or 0) == 1


def test_changed_content_gets_a_higher_generation(desired: DesiredState) -> None:
    first = desired.put(spec())
    second = desired.put(spec(symbols=("BTC/USDT", "ETH/USDT")))
    assert second.generation > first.generation
    assert desired.get("binance") == second


def test_put_many_writes_only_the_changed_specs(desired: DesiredState) -> None:
    stored = desired.put_many([spec("a"), spec("b"), spec("c")])
    assert sorted(s.generation for s in stored.values()) == [1, 2, 3]
    again = desired.put_many([spec("a"), spec("b", ("ETH/USDT",)), spec("c")])
    assert again["a"] == stored["a"] and again["c"] == stored["c"]
    assert again["b"].generation == 4
    assert desired.all() == again


def test_remove_drops_a_job_key(desired: DesiredState) -> None:
    desired.put_many([spec("a"), spec("b")])
    desired.remove("a")
    assert desired.get("a") is None
    assert desired.job_keys() == ["b"]


def test_an_undecodable_entry_reads_as_missing_and_is_rewritten(
    desired: DesiredState, redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.hset(keys.desired(), "a", "{not json")
    assert desired.all() == {}
    assert desired.put(spec("a")).generation == 1


def test_an_unreachable_redis_raises_store_error(keys: Keys) -> None:
    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    with pytest.raises(StoreError, match="reading the desired state"):
        DesiredState(client, keys).all()


def test_the_marker_comes_only_with_a_whole_restore_never_with_partial_writes(
    desired: DesiredState, redis_client: redis.Redis, keys: Keys
) -> None:
    # A partial write landing on a Redis that lost everything must not make the
    # other jobs' missing keys look removed.
    stored = desired.put_many([spec("a"), spec("b")])
    desired.remove("a")
    assert not desired.present()
    assert desired.restore({"b": replace(stored["b"], generation=9)})
    assert desired.present() and desired.all() == {"b": replace(stored["b"], generation=9)}
    # The counter is raised past every restored generation: no number is reused.
    assert desired.put(spec("c")).generation == 10


def test_a_restore_changes_nothing_while_the_marker_is_there(desired: DesiredState) -> None:
    assert desired.restore({"a": spec("a")})
    assert not desired.restore({"z": spec("z")})
    assert desired.job_keys() == ["a"]


async def test_a_job_tells_its_removed_key_from_a_lost_desired_state(
    redis_url: str, keys: Keys, desired: DesiredState
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert await load_spec(client, keys, "a") == SpecMissing.STATE_LOST
        desired.restore({"a": spec("a"), "b": spec("b")})
        assert await load_spec(client, keys, "a") == spec("a")
        desired.remove("a")
        assert await load_spec(client, keys, "a") == SpecMissing.REMOVED
        desired.remove("b")  # the last key: the hash is gone, the marker stays
        assert await load_spec(client, keys, "b") == SpecMissing.REMOVED
    finally:
        await client.aclose()
