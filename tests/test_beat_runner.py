"""The beat's passes as the scheduler runs them: status records, outages, the lock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import redis
import structlog

from bench.beat_setup import database_options
from service.beat.lock import BeatLock
from service.beat.runner import Beat
from service.beat.source import DatabaseSource
from service.beat.status import read_status
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import Base, Exchange, Symbol
from service.desired import DesiredState
from service.keys import Keys

OPTIONS = database_options(shard_size=200)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, job_key: str) -> None:
        self.calls.append(job_key)


def fill(url: str, *rows: tuple[str, tuple[str, ...]]) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine).begin() as session:
        for name, symbols in rows:
            exchange = Exchange(name=name, ccxt_id="binance", ccxt_params={}, watch_params={})
            exchange.symbols = [Symbol(symbol=s) for s in symbols]
            session.add(exchange)
    engine.dispose()


@pytest.fixture
def source(sqlite_url: str) -> Iterator[DatabaseSource]:
    loader = DatabaseSource(sqlite_url)
    yield loader
    loader.close()


def make_beat(client: redis.Redis, keys: Keys, load, enqueue, **kw) -> Beat:  # type: ignore[no-untyped-def]
    return Beat(client=client, keys=keys, load=load, enqueue=enqueue, options=OPTIONS,
                beat_id=kw.pop("beat_id", "test-beat"), **kw)  # fmt: skip


def test_a_reconcile_pass_records_its_status_with_skipped_rows(
    sqlite_url: str, source: DatabaseSource, redis_client: redis.Redis, keys: Keys
) -> None:
    fill(sqlite_url, ("bin", ("BTC/USDT", "bad symbol")))
    status = make_beat(redis_client, keys, source, Recorder()).reconcile_pass()
    stored = json.loads(redis_client.hget(keys.beat_status(), "reconcile") or "{}")
    assert status is not None and stored["outcome"] == "ok" and stored["error"] is None
    assert stored["jobs"] == 1 and stored["enqueued"] == 1 and stored["beat_id"] == "test-beat"
    assert {k: stored["skipped_rows"][0][k] for k in ("table", "name", "column", "exchange")} == {
        "table": "symbols",
        "name": "bad symbol",
        "column": "symbol",
        "exchange": "bin",
    }
    assert "not a unified symbol" in stored["skipped_rows"][0]["error"]
    assert stored["at"] > 1.7e12 and stored["duration_ms"] > 0


def test_a_database_outage_is_recorded_and_the_next_pass_recovers(
    sqlite_url: str, source: DatabaseSource, redis_client: redis.Redis, keys: Keys
) -> None:
    desired = DesiredState(redis_client, keys)
    beat = make_beat(redis_client, keys, source, Recorder())
    failed = beat.reconcile_pass()  # no tables yet: the database cannot answer
    assert failed is not None and failed.outcome == "error"
    assert failed.error is not None and "reading enabled exchanges failed" in failed.error
    assert read_status(redis_client, keys)["reconcile"].outcome == "error"
    assert desired.all() == {}
    fill(sqlite_url, ("bin", ("BTC/USDT",)))
    recovered = beat.reconcile_pass()
    assert recovered is not None and recovered.outcome == "ok"
    assert list(desired.all()) == ["bin"]


def test_a_database_outage_leaves_existing_desired_state_alone(
    sqlite_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    fill(sqlite_url, ("bin", ("BTC/USDT",)))
    good, bad = DatabaseSource(sqlite_url), DatabaseSource("sqlite:////nonexistent/dir/x.db")
    make_beat(redis_client, keys, good, Recorder()).reconcile_pass()
    before = DesiredState(redis_client, keys).all()
    status = make_beat(redis_client, keys, bad, Recorder()).reconcile_pass()
    good.close(), bad.close()
    assert status is not None and status.outcome == "error"
    assert DesiredState(redis_client, keys).all() == before


def test_a_database_outage_is_logged_with_its_cause_and_without_the_password(
    redis_client: redis.Redis, keys: Keys
) -> None:
    source = DatabaseSource("postgresql://postgres:s3cret@127.0.0.1:1/x")
    with structlog.testing.capture_logs() as logs:
        status = make_beat(redis_client, keys, source, Recorder()).reconcile_pass()
    source.close()
    logged = repr(logs)
    assert status is not None and status.error is not None
    assert "Connection refused" in status.error and "s3cret" not in status.error
    assert "beat pass failed" in [entry["event"] for entry in logs]
    assert "Connection refused" in logged
    assert "s3cret" not in logged


def test_a_redis_outage_fails_the_pass_without_raising(source: DatabaseSource, keys: Keys) -> None:
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    beat = make_beat(down, keys, source, Recorder())
    supervised, reconciled = beat.supervise_pass(), beat.reconcile_pass()
    assert supervised is not None and supervised.outcome == "error"
    assert reconciled is not None and reconciled.outcome == "error"
    assert "Error" in (supervised.error or "")


def test_a_quiet_supervision_pass_records_ok_with_nothing_enqueued(
    sqlite_url: str, source: DatabaseSource, redis_client: redis.Redis, keys: Keys
) -> None:
    fill(sqlite_url, ("bin", ("BTC/USDT",)), ("okx", ("BTC/USDT",)))
    enqueue = Recorder()
    beat = make_beat(redis_client, keys, source, enqueue)
    beat.reconcile_pass()
    status = beat.supervise_pass()
    assert status is not None and (status.jobs, status.enqueued) == (2, 0)
    assert sorted(enqueue.calls) == ["bin", "okx"]


def test_two_beats_without_a_lock_still_send_one_message_per_job(
    sqlite_url: str, source: DatabaseSource, redis_client: redis.Redis, keys: Keys
) -> None:
    fill(sqlite_url, ("bin", ("BTC/USDT",)))
    enqueue = Recorder()
    first = make_beat(redis_client, keys, source, enqueue, beat_id="one")
    second = make_beat(redis_client, keys, source, enqueue, beat_id="two")
    for beat in (first, second, first, second):
        beat.reconcile_pass()
        beat.supervise_pass()
    assert enqueue.calls == ["bin"]


def test_only_the_beat_holding_the_lock_runs_passes_and_a_standby_takes_over(
    sqlite_url: str, source: DatabaseSource, redis_client: redis.Redis, keys: Keys
) -> None:
    fill(sqlite_url, ("bin", ("BTC/USDT",)))
    beats = [
        make_beat(redis_client, keys, source, Recorder(), beat_id=name,
                  lock=BeatLock(redis_client, keys.beat_lock(), name, ttl_s=0.3))
        for name in ("one", "two")
    ]  # fmt: skip
    assert [beat.lock_tick() for beat in beats] == [True, False]
    assert beats[0].reconcile_pass() is not None
    assert beats[1].reconcile_pass() is None and beats[1].supervise_pass() is None
    started = time.monotonic()  # "one" dies: it stops renewing
    while not beats[1].lock_tick():
        time.sleep(0.05)
    assert time.monotonic() - started < 0.5
    taken_over = beats[1].supervise_pass()  # the new holder reconciles at once
    assert taken_over is not None and taken_over.kind == "reconcile"
    assert (supervised := beats[1].supervise_pass()) is not None and supervised.kind == "supervise"
    assert beats[0].reconcile_pass() is None  # the old holder lost the lock: it stands by
