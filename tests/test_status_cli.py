"""``ticker-service status`` against a real Redis: the table, --json, --watch and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
import redis

from service.cli import main
from service.health import record_heartbeat
from service.keys import Keys
from service.settings import Settings
from workers.spec import JobSpec

CLEAR = "\x1b[H\x1b[2J"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, redis_url: str, key_prefix: str) -> dict[str, str]:
    values = {"REDIS_URL": redis_url, "TICKER_KEY_PREFIX": key_prefix, "LOG_LEVEL": "WARNING"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def desire(client: redis.Redis, keys: Keys, *job_keys: str) -> None:
    for key in job_keys:
        spec = JobSpec(job_key=key, exchange=key, ccxt_id=key, symbols=("BTC/USDT",))
        client.hset(keys.desired(), key, spec.to_json())


def streaming(client: redis.Redis, keys: Keys, job_key: str, **changes: Any) -> None:
    now = now_ms()
    heartbeat = {
        "job_key": job_key,
        "exchange": job_key,
        "worker_id": f"worker-{job_key}",
        "host": "box",
        "pid": 4242,
        "state": "streaming",
        "sent_at": now,
        "symbols": ["BTC/USDT"],
        "ticks_total": 1234,
        "ticks_per_s": 7.5,
        "last_tick_at": now,
        "symbol_last_tick_at": {"BTC/USDT": now},
        "reconnects": 3,
        "latency_p50_ms": 4.0,
        "latency_p99_ms": 25.0,
        **changes,
    }
    record_heartbeat(client, keys, heartbeat, settings=Settings())


def test_status_exits_zero_and_shows_each_job_when_every_desired_job_is_up(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    desire(redis_client, keys, "binance", "kraken")
    streaming(redis_client, keys, "binance")
    streaming(redis_client, keys, "kraken")
    capsys.readouterr()  # drop what setting up logged
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("HEALTHY: 2 desired jobs: 2 up")
    row = next(line for line in out.splitlines() if line.startswith("binance "))
    assert row.split()[:5] == ["binance", "up", "1", "7.5", row.split()[4]]
    assert "4.0/25" in row and "box:4242" in row
    assert "beat: reconcile never; supervise never" in out


def test_status_exits_non_zero_and_says_why_when_a_desired_job_is_down(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    desire(redis_client, keys, "binance", "kraken")
    streaming(redis_client, keys, "binance")
    capsys.readouterr()
    assert main(["status"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("UNHEALTHY: 2 desired jobs: 1 up, 0 stale, 1 down, 0 failed")
    row = next(line for line in out.splitlines() if line.startswith("kraken "))
    assert "DOWN" in row and "no heartbeat received" in row


def test_status_json_is_the_full_status_object(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys, capsys: pytest.CaptureFixture[str]
) -> None:
    desire(redis_client, keys, "binance")
    streaming(redis_client, keys, "binance", state="failed", last_error="auth rejected")
    capsys.readouterr()
    assert main(["status", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["healthy"] is False
    assert data["counts"] == {"up": 0, "stale": 0, "down": 0, "failed": 1}
    job = data["jobs"][0]
    assert (job["job_key"], job["state"], job["reason"]) == ("binance", "failed", "auth rejected")
    assert data["workers"][0]["jobs"] == ["binance"]
    assert set(data["beat"]) >= {"reconcile", "supervise", "ok", "problems"}


def test_status_is_unhealthy_when_no_job_is_desired(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 1
    assert "no job is desired" in capsys.readouterr().out


def test_status_reports_a_redis_that_does_not_answer_clearly(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "does not answer" in err and "127.0.0.1:1" in err
    assert "hunter2" not in err


def test_status_watch_redraws_until_interrupted(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    desire(redis_client, keys, "binance")
    streaming(redis_client, keys, "binance")
    command = [sys.executable, "-m", "service.cli", "status", "--watch", "--interval", "0.2"]
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    watchdog = threading.Timer(30, proc.kill)  # never hang the suite
    watchdog.start()
    try:
        seen = ""
        while seen.count(CLEAR) < 3 and (line := proc.stdout.readline()):
            seen += line
        proc.send_signal(signal.SIGINT)
        seen += proc.communicate(timeout=10)[0]
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert seen.count(CLEAR) >= 3
    assert "HEALTHY: 1 desired job: 1 up" in seen
