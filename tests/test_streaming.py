"""The wiring of a streaming job in service.streaming, against a real Redis."""

from __future__ import annotations

import redis

from service.keys import Keys
from service.settings import Settings
from service.streaming import job_config, release_lease


def test_release_lease_deletes_only_a_lease_that_still_holds_our_token(
    keys: Keys, redis_client: redis.Redis
) -> None:
    redis_client.set(keys.lease("alpha"), "another-run", px=10_000)
    assert not release_lease(redis_client, keys, "alpha", "our-run")
    assert redis_client.get(keys.lease("alpha")) == b"another-run"
    redis_client.set(keys.lease("alpha"), "our-run", px=10_000)
    assert release_lease(redis_client, keys, "alpha", "our-run")
    assert redis_client.exists(keys.lease("alpha")) == 0


def test_the_job_config_takes_every_timing_from_the_settings() -> None:
    settings = Settings(heartbeat_interval_s=1.5, lease_ttl_s=4, max_retries=2)
    config = job_config(settings)
    assert (config.heartbeat_interval_s, config.lease_ttl_s, config.max_retries) == (1.5, 4, 2)
    assert config.stale_after_s == settings.stale_after_s == 30.0
