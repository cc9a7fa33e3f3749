"""The health registry through a real Redis: heartbeats, worker records, transition alerts."""

from __future__ import annotations

import json
import threading
from collections.abc import MutableMapping
from typing import Any

import pytest
import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.errors import StoreError, ValidationError
from service.health import check_transitions, load_status, record_heartbeat
from service.keys import Keys
from service.settings import Settings
from workers.heartbeat import Heartbeat
from workers.spec import JobSpec

NOW = 1_700_000_000_000
SETTINGS = Settings(heartbeat_interval_s=5.0, stale_after_s=30.0)


def heartbeat(job_key: str = "binance", **changes: Any) -> dict[str, Any]:
    hb = Heartbeat(
        job_key=job_key,
        exchange=job_key.split("#")[0],
        worker_id="w1",
        host="host-a",
        pid=100,
        state="streaming",
        sent_at=NOW,
        symbols=["BTC/USDT"],
        ticks_total=10,
        ticks_per_s=2.0,
        last_tick_at=NOW,
        symbol_last_tick_at={"BTC/USDT": NOW},
    ).to_dict()
    return {**hb, **changes}


def desire(client: redis.Redis, keys: Keys, *job_keys: str) -> None:
    for key in job_keys:
        spec = JobSpec(job_key=key, exchange=key, ccxt_id="binance", symbols=("BTC/USDT",))
        client.hset(keys.desired(), key, spec.to_json())


def record(client: redis.Redis, keys: Keys, hb: dict[str, Any], now: int | None = None) -> Any:
    return record_heartbeat(client, keys, hb, settings=SETTINGS, now_ms=now or hb["sent_at"])


def stored(client: redis.Redis, key: str, field: str) -> dict[str, Any]:
    raw = client.hget(key, field)
    assert raw is not None
    return dict(json.loads(raw))


def health_events(logs: list[MutableMapping[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (entry["log_level"], entry["event"], entry["state"])
        for entry in logs
        if entry.get("event", "").startswith("job ")
    ]


def test_the_registry_keeps_the_latest_heartbeat_of_each_job(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance")
    record(redis_client, keys, heartbeat(state="starting", sent_at=NOW, ticks_total=0))
    record(redis_client, keys, heartbeat(sent_at=NOW + 5_000, ticks_total=99))
    job = stored(redis_client, keys.health_jobs(), "binance")
    assert (job["ticks_total"], job["sent_at"]) == (99, NOW + 5_000)
    assert job["run_started_at"] == NOW


def test_an_older_heartbeat_arriving_late_is_ignored(redis_client: redis.Redis, keys: Keys) -> None:
    record(redis_client, keys, heartbeat(sent_at=NOW + 5_000, ticks_total=99))
    record(redis_client, keys, heartbeat(sent_at=NOW, ticks_total=1), now=NOW + 6_000)
    assert stored(redis_client, keys.health_jobs(), "binance")["ticks_total"] == 99


def test_a_worker_record_lists_the_jobs_it_holds_until_they_stop(
    redis_client: redis.Redis, keys: Keys
) -> None:
    record(redis_client, keys, heartbeat("binance"))
    record(redis_client, keys, heartbeat("kraken", sent_at=NOW + 1_000))
    worker = stored(redis_client, keys.health_workers(), "w1")
    assert worker == {
        "worker_id": "w1",
        "host": "host-a",
        "pid": 100,
        "jobs": ["binance", "kraken"],
        "last_seen_at": NOW + 1_000,
    }
    record(redis_client, keys, heartbeat("kraken", state="stopped", sent_at=NOW + 2_000))
    assert stored(redis_client, keys.health_workers(), "w1")["jobs"] == ["binance"]


def test_a_worker_streaming_two_jobs_keeps_both_and_stays_fresh(
    redis_client: redis.Redis, keys: Keys
) -> None:
    for second in range(0, 20, 5):  # heartbeats of the two jobs alternate
        record(redis_client, keys, heartbeat("binance", sent_at=NOW + second * 1_000))
        record(redis_client, keys, heartbeat("kraken", sent_at=NOW + second * 1_000 + 500))
    worker = stored(redis_client, keys.health_workers(), "w1")
    assert worker["jobs"] == ["binance", "kraken"]
    assert worker["last_seen_at"] == NOW + 15_500


def test_a_worker_record_keeps_the_latest_load_its_heartbeats_report(
    redis_client: redis.Redis, keys: Keys
) -> None:
    load = {"worker_capacity": 16}
    record(redis_client, keys, heartbeat("binance", worker_jobs=1, **load))
    record(redis_client, keys, heartbeat("kraken", sent_at=NOW + 1_000, worker_jobs=2, **load))
    # Recorded late (health workers run in parallel): an older load does not win.
    record(redis_client, keys, heartbeat("binance", sent_at=NOW + 500, worker_jobs=1, **load))
    worker = stored(redis_client, keys.health_workers(), "w1")
    assert (worker["running"], worker["capacity"]) == (2, 16)
    # A sender that does not report it keeps the load last reported.
    record(redis_client, keys, heartbeat("kraken", sent_at=NOW + 2_000))
    assert stored(redis_client, keys.health_workers(), "w1")["running"] == 2


def test_a_job_handed_to_another_worker_leaves_the_first_ones_record(
    redis_client: redis.Redis, keys: Keys
) -> None:
    record(redis_client, keys, heartbeat(worker_id="w1"))
    record(redis_client, keys, heartbeat(worker_id="w2", pid=200, sent_at=NOW + 1_000))
    # The first holder's late "stopped" must not overwrite the new holder's heartbeat.
    record(redis_client, keys, heartbeat(worker_id="w1", state="stopped", sent_at=NOW + 500))
    assert stored(redis_client, keys.health_workers(), "w1")["jobs"] == []
    assert stored(redis_client, keys.health_workers(), "w2")["jobs"] == ["binance"]
    assert stored(redis_client, keys.health_jobs(), "binance")["worker_id"] == "w2"


def test_a_malformed_heartbeat_is_rejected_without_touching_redis(
    redis_client: redis.Redis, keys: Keys
) -> None:
    with pytest.raises(ValidationError):
        record_heartbeat(
            redis_client, keys, {"job_key": "x", "state": "streaming"}, settings=SETTINGS
        )
    assert redis_client.exists(keys.health_jobs()) == 0


def test_a_redis_that_does_not_answer_is_a_store_error(keys: Keys) -> None:
    client = redis.Redis(port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with pytest.raises(StoreError):
        record_heartbeat(client, keys, heartbeat(), settings=SETTINGS)


def test_turning_stale_warns_once_and_recovering_informs_once(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance")
    stale: dict[str, Any] = {"last_tick_at": NOW - 40_000}
    beats = [
        heartbeat(sent_at=NOW),
        heartbeat(sent_at=NOW + 5_000),
        heartbeat(sent_at=NOW + 40_000, **stale),
        heartbeat(sent_at=NOW + 45_000, **stale),
        heartbeat(sent_at=NOW + 50_000, last_tick_at=NOW + 49_000),
        heartbeat(sent_at=NOW + 55_000, last_tick_at=NOW + 54_000),
    ]
    with structlog.testing.capture_logs() as logs:
        states = [record(redis_client, keys, hb) for hb in beats]
    assert states == ["up", "up", "stale", "stale", "up", "up"]
    assert health_events(logs) == [
        ("info", "job up", "up"),
        ("warning", "job unhealthy", "stale"),
        ("info", "job recovered", "up"),
    ]


def test_heartbeats_of_an_undesired_job_keep_no_state_and_raise_no_alert(
    redis_client: redis.Redis, keys: Keys
) -> None:
    with structlog.testing.capture_logs() as logs:
        assert record(redis_client, keys, heartbeat(state="failed")) is None
    assert health_events(logs) == []
    assert redis_client.hlen(keys.health_states()) == 0


def test_a_job_whose_heartbeats_stop_is_reported_down_once(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance")
    record(redis_client, keys, heartbeat())
    with structlog.testing.capture_logs() as logs:
        assert check_transitions(redis_client, keys, SETTINGS, now=NOW + 10_000) == []
        first = check_transitions(redis_client, keys, SETTINGS, now=NOW + 20_000)
        again = check_transitions(redis_client, keys, SETTINGS, now=NOW + 25_000)
    assert [(t.job_key, t.old, t.new) for t in first] == [("binance", "up", "down")]
    assert again == []
    assert health_events(logs) == [("warning", "job unhealthy", "down")]
    assert redis_client.hget(keys.health_states(), "binance") == b"down"


def test_two_processes_checking_at_once_log_a_transition_only_once(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance", "kraken")
    record(redis_client, keys, heartbeat("binance"))
    record(redis_client, keys, heartbeat("kraken"))
    won: list[Any] = []
    start = threading.Barrier(4)

    def check() -> None:
        client = redis.Redis.from_url(redis_url)
        start.wait()
        for _ in range(5):
            won.extend(check_transitions(client, keys, SETTINGS, now=NOW + 60_000))
        client.close()

    threads = [threading.Thread(target=check) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted((t.job_key, t.new) for t in won) == [("binance", "down"), ("kraken", "down")]


def test_a_desired_job_never_heard_of_is_down_and_logged_as_awaited(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "okx")
    with structlog.testing.capture_logs() as logs:
        transitions = check_transitions(redis_client, keys, SETTINGS, now=NOW)
    assert [(t.old, t.new) for t in transitions] == [(None, "down")]
    assert health_events(logs) == [("info", "job awaiting its first heartbeat", "down")]


def test_the_check_forgets_undesired_jobs_and_silent_workers(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance")
    record(redis_client, keys, heartbeat("binance"))
    record(redis_client, keys, heartbeat("gone", worker_id="w9"))
    redis_client.hdel(keys.desired(), "binance")
    later = NOW + 601_000
    check_transitions(redis_client, keys, SETTINGS, now=later)
    # binance left the desired state: its alert state goes at once; its record,
    # like the silent worker's, goes once nothing was heard for FORGET_AFTER_S.
    assert redis_client.hlen(keys.health_states()) == 0
    assert redis_client.hkeys(keys.health_jobs()) == []
    assert redis_client.hkeys(keys.health_workers()) == []


def test_the_status_read_from_redis_shows_jobs_workers_and_the_beat(
    redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance", "kraken")
    record(redis_client, keys, heartbeat("binance"))
    beat = {"at": NOW - 1_000, "duration_ms": 5.0, "outcome": "ok", "error": None}
    redis_client.hset(keys.beat_status(), "reconcile", json.dumps(beat))
    status = load_status(redis_client, keys, SETTINGS, now=NOW + 1_000)
    assert [(job.job_key, job.state) for job in status.jobs] == [
        ("binance", "up"),
        ("kraken", "down"),
    ]
    assert [worker.jobs for worker in status.workers] == [("binance",)]
    assert status.beat.reconcile.age_s == 2.0
    assert status.beat.problems == ("no supervise pass recorded",)
