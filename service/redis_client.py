"""Redis clients built from the settings' URL (redis://, rediss://, unix://)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

# Fail fast when Redis is away instead of hanging a beat pass or a CLI call.
SOCKET_TIMEOUT_S = 5.0


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
    )


def async_client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
    )
