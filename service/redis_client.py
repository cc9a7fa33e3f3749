"""Every Redis client of the service, built from the settings' URL.

``redis://``, ``rediss://`` and ``unix://`` name one server. A
``redis+sentinel://`` URL names a Sentinel set (see ``service.sentinel_url``):
the client is then redis-py's ``master_for`` client, whose pool asks the
Sentinels for the master's address on every new connection. After a failover
the old connections fail once (ConnectionError, or a READONLY reply, even to
a Lua script, turned into one on a demoted master: service.sentinel_connection)
and the next connection goes to the promoted replica; no address is kept
beyond a live connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
import redis.asyncio.retry
import redis.retry
import redis.sentinel
from redis.backoff import NoBackoff

from service.sentinel_connection import (
    AsyncSentinel,
    AsyncSentinelConnection,
    Sentinel,
    SentinelConnection,
)
from service.sentinel_url import SentinelUrl, is_sentinel_url, parse_sentinel_url

# Fail fast when Redis is away instead of hanging a beat pass or a CLI call.
SOCKET_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class _SentinelKind:
    sentinel: Any
    connection: Any
    # One try per Sentinel: redis-py already moves on to the next one, and its default
    # (10 tries with backoff) spends seconds on a dead Sentinel during a failover.
    once: Any


SYNC_SENTINEL = _SentinelKind(Sentinel, SentinelConnection, redis.retry.Retry(NoBackoff(), 0))
ASYNC_SENTINEL = _SentinelKind(
    AsyncSentinel, AsyncSentinelConnection, redis.asyncio.retry.Retry(NoBackoff(), 0)
)


def sync_client(url: str, **options: Any) -> redis.Redis:
    """A client for ``url``; ``options`` (timeouts, health checks) override the defaults.

    Raises ConfigError for a malformed ``redis+sentinel://`` URL.
    """
    client: redis.Redis = _build(url, options, redis.Redis, SYNC_SENTINEL)
    return client


def async_client(url: str, **options: Any) -> aioredis.Redis:
    """The asyncio twin of ``sync_client``: one event loop's client for ``url``."""
    client: aioredis.Redis = _build(url, options, aioredis.Redis, ASYNC_SENTINEL)
    return client


def _build(url: str, options: dict[str, Any], redis_class: Any, kind: _SentinelKind) -> Any:
    options = _with_timeouts(options)
    if not is_sentinel_url(url):
        return redis_class.from_url(url, **options)
    where = parse_sentinel_url(url)
    asking = {**_sentinel_options(where, options), "retry": kind.once}
    sentinel = kind.sentinel(where.sentinels, sentinel_kwargs=asking)
    master = _master_options(where, options)
    return sentinel.master_for(where.service_name, connection_class=kind.connection, **master)


def _with_timeouts(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": SOCKET_TIMEOUT_S,
        **options,
    }


def _sentinel_options(where: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    # Sentinels get the same timeouts; their password is their own, not the master's.
    timeouts = {name: value for name, value in options.items() if name.startswith("socket_")}
    return {**timeouts, "password": where.sentinel_password}


def _master_options(where: SentinelUrl, options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "db": where.db, "username": where.username, "password": where.password}
