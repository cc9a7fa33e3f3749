"""The beat's wake-up: bursts coalesce, busy passes retry, listeners hear Redis and Postgres.

Real threads, a real Redis and a real Postgres (whose listener connection is
killed with pg_terminate_backend to show the reconnect).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
import sqlalchemy as sa

from service.beat.listen import Listening, RedisWakeups, listen
from service.beat.lock import BeatLock
from service.beat.pg_listen import EDITS_CHANNEL, PostgresEdits, is_postgres
from service.beat.wakeup import Wakeup, publish_wakeup, reconcile_now
from service.db import migrate
from service.db.engine import make_engine
from service.keys import Keys
from tests.test_beat_runner import Recorder, make_beat


def wait_for(check: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not true within {timeout_s} s"
        time.sleep(0.02)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def in_thread(target: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


class Heard:
    """A ``wake`` callback that keeps what it was told."""

    def __init__(self) -> None:
        self.reasons: list[str] = []

    def __call__(self, reason: str) -> None:
        self.reasons.append(reason)


# -- coalescing ---------------------------------------------------------------------


def test_a_burst_of_requests_makes_one_pass_soon_after(stop: threading.Event) -> None:
    passes: list[float] = []
    wakeup = Wakeup(lambda: passes.append(time.monotonic()) is None)
    thread = in_thread(lambda: wakeup.run(stop))
    first = time.monotonic()
    for n in range(30):
        wakeup.request(f"edit {n}")
        time.sleep(0.005)
    wait_for(lambda: passes)
    time.sleep(0.5)
    assert len(passes) == 1 and passes[0] - first < 1.0
    stop.set()
    thread.join(2)
    assert not thread.is_alive()


def test_a_request_during_a_pass_runs_one_more_pass_after_it(stop: threading.Event) -> None:
    release = threading.Event()
    calls: list[int] = []

    def run_pass() -> bool:
        calls.append(1)
        if len(calls) == 1:
            release.wait(5)  # the first pass is slow; an edit lands meanwhile
        return True

    wakeup = Wakeup(run_pass)
    in_thread(lambda: wakeup.run(stop))
    wakeup.request("first")
    wait_for(lambda: calls)
    wakeup.request("during the pass")
    release.set()
    wait_for(lambda: wakeup.passes == 2)
    time.sleep(0.3)
    assert len(calls) == 2


def test_a_busy_pass_is_retried_until_it_runs(stop: threading.Event) -> None:
    answers = [False, False, True]
    wakeup = Wakeup(lambda: answers.pop(0))
    in_thread(lambda: wakeup.run(stop))
    wakeup.request("edit")
    wait_for(lambda: wakeup.passes == 1)
    assert answers == []


def test_a_standby_beat_does_not_reconcile_on_a_wake_up(
    redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.set(keys.beat_lock(), "the-active-beat", px=30_000)
    loads: list[int] = []
    lock = BeatLock(redis_client, keys.beat_lock(), "standby", ttl_s=30)
    beat = make_beat(redis_client, keys, lambda: loads.append(1) or [], Recorder(), lock=lock)
    beat.lock_tick()
    assert reconcile_now(beat) is True  # done: nothing to retry
    assert loads == [] and not redis_client.hexists(keys.beat_status(), "reconcile")


# -- Redis ----------------------------------------------------------------------------


def test_the_redis_listener_hears_a_published_wake_up(
    redis_url: str, redis_client: redis.Redis, keys: Keys, stop: threading.Event
) -> None:
    assert publish_wakeup(redis_client, keys, "symbols add alpha") == 0  # nobody listens yet
    heard = Heard()
    thread = in_thread(lambda: listen(RedisWakeups(redis_url, keys), heard, stop))
    wait_for(lambda: redis_client.pubsub_numsub(keys.beat_wakeup())[0][1] == 1)
    assert publish_wakeup(redis_client, keys, "symbols add alpha") == 1
    wait_for(lambda: heard.reasons == ["symbols add alpha"])
    stop.set()
    thread.join(3)
    assert not thread.is_alive()


def test_the_listener_keeps_trying_while_redis_is_away(
    keys: Keys, stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    heard = Heard()
    thread = in_thread(lambda: listen(RedisWakeups("redis://127.0.0.1:1/0", keys), heard, stop))
    time.sleep(2)  # a few attempts, each refused
    assert thread.is_alive() and heard.reasons == []
    stop.set()
    thread.join(3)
    assert not thread.is_alive()
    captured = capsys.readouterr()
    assert "beat listener lost" in captured.out + captured.err


# -- Postgres -------------------------------------------------------------------------


class Recording:
    """A source that keeps its last connection, so a test can kill it."""

    def __init__(self, inner: PostgresEdits) -> None:
        self.inner = inner
        self.name = inner.name
        self.last: Listening | None = None

    def connect(self) -> Listening:
        self.last = self.inner.connect()
        return self.last


@pytest.fixture
def migrated_postgres(postgres_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(postgres_url)
    try:
        migrate.upgrade(postgres_url)
        yield engine
    finally:
        engine.dispose()


def insert_exchange(engine: sa.Engine, name: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO exchanges (name, ccxt_id) VALUES (:n, 'binance')"), {"n": name}
        )


def test_a_plain_sql_edit_on_postgres_wakes_the_listener_of_its_schema_only(
    postgres_url: str, migrated_postgres: sa.Engine, stop: threading.Event
) -> None:
    assert is_postgres(postgres_url) and not is_postgres("sqlite:///x.db")
    heard = Heard()
    source = Recording(PostgresEdits(postgres_url))
    in_thread(lambda: listen(source, heard, stop))
    wait_for(lambda: source.last is not None)
    # What the trigger of another deployment (another schema, same database) sends.
    elsewhere = json.dumps({"schema": "elsewhere", "table": "exchanges", "op": "INSERT"})
    with migrated_postgres.begin() as connection:
        connection.execute(sa.text(f"SELECT pg_notify('{EDITS_CHANNEL}', :p)"), {"p": elsewhere})
    insert_exchange(migrated_postgres, "alpha")
    wait_for(lambda: heard.reasons)
    time.sleep(0.3)
    assert heard.reasons == ["insert exchanges"]


def test_the_postgres_listener_reconnects_when_its_connection_is_killed(
    postgres_url: str, migrated_postgres: sa.Engine, stop: threading.Event
) -> None:
    heard = Heard()
    source = Recording(PostgresEdits(postgres_url))
    thread = in_thread(lambda: listen(source, heard, stop))
    wait_for(lambda: source.last is not None)
    first = source.last
    pid = first.connection.get_backend_pid()  # type: ignore[union-attr]
    with migrated_postgres.connect() as connection:
        connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    wait_for(lambda: "postgres reconnected" in heard.reasons, 15)
    assert source.last is not first
    insert_exchange(migrated_postgres, "alpha")
    wait_for(lambda: "insert exchanges" in heard.reasons)
    assert thread.is_alive()


def test_the_postgres_listener_keeps_trying_while_the_database_is_away(
    stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    source = PostgresEdits("postgresql://ticker:s3cret@127.0.0.1:1/nowhere")
    thread = in_thread(lambda: listen(source, Heard(), stop))
    time.sleep(2)
    assert thread.is_alive()
    stop.set()
    thread.join(3)
    assert not thread.is_alive()
    logged = "".join(capsys.readouterr())
    assert "beat listener lost" in logged and "postgres" in logged and "s3cret" not in logged


def test_a_database_without_revision_0002_is_listened_to_with_a_warning(
    postgres_url: str,
    migrated_postgres: sa.Engine,
    stop: threading.Event,
    capsys: pytest.CaptureFixture[str],
) -> None:
    migrate.downgrade(postgres_url, "0001")
    source = Recording(PostgresEdits(postgres_url))
    in_thread(lambda: listen(source, Heard(), stop))
    wait_for(lambda: source.last is not None)
    logged = "".join(capsys.readouterr())
    assert "postgres edit trigger missing" in logged and "ticker-service db upgrade" in logged
