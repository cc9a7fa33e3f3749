"""The real ``ticker-scheduler`` console script as a process: start, reconcile, SIGTERM."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from service.beat.wakeup import publish_wakeup
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import Base, Exchange, Symbol
from service.keys import Keys


def wait_for(check: Callable[[], object], timeout_s: float = 15.0) -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout_s} s")


def stopped(beat: subprocess.Popen[str], timeout_s: float = 10.0) -> str:
    """SIGTERM ``beat``; its output once it exited with 0."""
    beat.send_signal(signal.SIGTERM)
    output, _ = beat.communicate(timeout=timeout_s)
    assert beat.returncode == 0, output
    return output


@pytest.fixture
def beat_env(sqlite_url: str, redis_url: str, key_prefix: str) -> dict[str, str]:
    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    with make_sessionmaker(engine).begin() as session:
        exchange = Exchange(name="bin", ccxt_id="binance", ccxt_params={}, watch_params={})
        exchange.symbols = [Symbol(symbol="BTC/USDT"), Symbol(symbol="ETH/USDT")]
        session.add(exchange)
    engine.dispose()
    return {
        **os.environ,
        "DATABASE_URL": sqlite_url,
        "REDIS_URL": redis_url,
        "TICKER_KEY_PREFIX": key_prefix,
        # The broker's keys under the test prefix: the fixture removes them, no worker sees them.
        "DRAMATIQ_NAMESPACE": f"{key_prefix}:dramatiq",
        "SUPERVISE_INTERVAL_S": "1",
        "LOG_FORMAT": "json",
    }


@pytest.fixture
def start_beat(beat_env: dict[str, str]) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    command = shutil.which("ticker-scheduler")
    assert command, "the ticker-scheduler console script is not installed"

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [command], env=beat_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_scheduler_reconciles_at_start_and_exits_cleanly_on_sigterm(
    start_beat: Callable[[], subprocess.Popen[str]], redis_client: redis.Redis, keys: Keys
) -> None:
    beat = start_beat()
    raw = wait_for(lambda: redis_client.hget(keys.desired(), "bin"))
    assert json.loads(raw)["symbols"] == ["BTC/USDT", "ETH/USDT"]  # type: ignore[arg-type]
    status = json.loads(wait_for(lambda: redis_client.hget(keys.beat_status(), "reconcile")))  # type: ignore[arg-type]
    assert status["outcome"] == "ok" and status["enqueued"] == 1
    assert redis_client.exists(keys.pending("bin"))
    assert wait_for(lambda: redis_client.hget(keys.beat_status(), "supervise"))
    assert redis_client.get(keys.beat_lock())
    output = stopped(beat, 5)
    assert not redis_client.exists(keys.beat_lock())  # released on a clean stop
    assert "beat stopped" in output


Beats = tuple[subprocess.Popen[str], subprocess.Popen[str], bytes]


@pytest.fixture
def two_beats(
    start_beat: Callable[[], subprocess.Popen[str]], redis_client: redis.Redis, keys: Keys
) -> Beats:
    """The first beat (it holds the lock), a second one started after, the lock's token."""
    first = start_beat()
    holder = wait_for(lambda: redis_client.get(keys.beat_lock()))
    return first, start_beat(), holder  # type: ignore[return-value]


def test_a_second_scheduler_stands_by_and_takes_over_when_the_first_dies(
    two_beats: Beats, redis_client: redis.Redis, keys: Keys
) -> None:
    first, second, holder = two_beats
    time.sleep(2)
    assert redis_client.get(keys.beat_lock()) == holder  # the second one waits
    first.kill()  # no clean release: the lock must expire (3 s with 1 s supervision)
    first.wait()
    taken = wait_for(lambda: (redis_client.get(keys.beat_lock()) or holder) != holder, 8)
    assert taken
    second.send_signal(signal.SIGTERM)
    output, _ = second.communicate(timeout=5)
    assert second.returncode == 0 and "beat active" in output


def test_a_sigterm_during_start_up_still_exits_cleanly(
    start_beat: Callable[[], subprocess.Popen[str]],
) -> None:
    beat = start_beat()
    time.sleep(1.5)  # handlers installed (~0.5 s), the broker and ccxt still importing
    stopped(beat)


def test_the_scheduler_keeps_running_while_redis_is_away_and_stops_cleanly(
    beat_env: dict[str, str],
) -> None:
    command = shutil.which("ticker-scheduler")
    assert command
    env = {**beat_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    beat = subprocess.Popen(
        [command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        time.sleep(5)  # start-up plus a few lock ticks, all failing
        assert beat.poll() is None, "the beat exited while Redis was away"
        beat.send_signal(signal.SIGTERM)
        output, _ = beat.communicate(timeout=10)
    finally:
        if beat.poll() is None:
            beat.kill()
            beat.wait()
    assert beat.returncode == 0, output
    assert "beat lock failed" in output


def _reconciled_by(client: redis.Redis, keys: Keys, after_ms: int) -> str | None:
    raw = client.hget(keys.beat_status(), "reconcile")
    status = json.loads(raw) if raw else {}
    return str(status["beat_id"]) if status and status["at"] >= after_ms else None


def test_a_wake_up_reconciles_on_the_active_beat_only(
    two_beats: Beats, redis_client: redis.Redis, keys: Keys
) -> None:
    first, second, holder = two_beats
    wait_for(lambda: redis_client.pubsub_numsub(keys.beat_wakeup())[0][1] == 2)
    time.sleep(1)  # the first reconcile of each has run
    since_ms = int(time.time() * 1000)
    assert publish_wakeup(redis_client, keys, "symbols add bin") == 2
    reconciled_by = wait_for(lambda: _reconciled_by(redis_client, keys, since_ms), 2)
    assert reconciled_by == holder.decode()
    time.sleep(0.5)
    assert _reconciled_by(redis_client, keys, since_ms) == reconciled_by  # no pass of the standby
    for beat in (second, first):
        assert "beat woken" in stopped(beat)
