"""ticker_client.health reads the registry as ``ticker-service status`` does, as typed records."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import redis

from service.health.snapshot import load_status
from service.keys import Keys
from service.settings import Settings
from tests.test_health_registry import desire, heartbeat, record
from ticker_client import Health, HealthState, JobHealth, TickerClient, WorkerHealth
from workers.clock import now_ms


async def test_health_gives_jobs_workers_and_the_beat_as_status_shows_them(
    redis_url: str, key_prefix: str, keys: Keys, redis_client: redis.Redis
) -> None:
    now = now_ms()
    desire(redis_client, keys, "binance", "okx")
    record(redis_client, keys, heartbeat("binance", sent_at=now, last_tick_at=now), now=now)

    async with TickerClient(redis_url, prefix=key_prefix) as client:
        health = await client.health()
    status = load_status(redis_client, keys, dataclasses.replace(Settings(), key_prefix=key_prefix))

    assert isinstance(health, Health) and health.at_utc.tzinfo is UTC
    assert health.healthy is False  # okx has no heartbeat
    binance, okx = health.jobs
    assert isinstance(binance, JobHealth)
    assert (binance.job_key, binance.state, binance.worker_id) == ("binance", HealthState.UP, "w1")
    assert (okx.state, okx.reason) == (HealthState.DOWN, "no heartbeat received")
    assert health.job("okx") == okx
    (worker,) = health.workers
    assert isinstance(worker, WorkerHealth) and worker.alive and worker.jobs == ("binance",)
    assert health.beat.problems  # no beat ran
    # Field for field what `status` derives (its instant aside).
    assert [(j.job_key, j.state, j.reason) for j in status.jobs] == [
        (j.job_key, j.state, j.reason) for j in health.jobs
    ]


async def test_health_judges_by_the_settings_from_env(redis_url: str, key_prefix: str) -> None:
    env = {"REDIS_URL": redis_url, "TICKER_KEY_PREFIX": key_prefix, "HEARTBEAT_INTERVAL_S": "2"}
    async with TickerClient.from_env(env) as client:
        assert client.settings.heartbeat_interval_s == 2.0
        assert client.keys == Keys(key_prefix)
        assert (await client.health()).jobs == ()
