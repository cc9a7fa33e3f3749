"""Connections to a Sentinel-named master that also leave it when a script is refused.

redis-py's Sentinel connections drop a master that answers READONLY (it was
demoted to a replica) and ask the Sentinels again on the next connect. A Lua
script that writes gets the same refusal wrapped in a plain ResponseError
("Error running script ...: -READONLY ..."), which redis-py does not recognise:
the connection would stay on the demoted server, and every lease renewal, beat
lock and Dramatiq fetch on it would fail until Sentinel closes it. These
classes treat that reply as the demotion it is.

When no Sentinel names a master, redis-py's error quotes the full repr of each
Sentinel client (kilobytes in every log line and CLI error); the Sentinel
classes here say the same in one line.
"""

from __future__ import annotations

import re
from typing import Any

import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from redis.exceptions import ConnectionError, ResponseError
from redis.sentinel import MasterNotFoundError

DEMOTED = "the master is now a replica: a script's write was refused"


def refused_as_replica(error: ResponseError) -> bool:
    """True for a script error that is a replica's READONLY refusal."""
    return "-READONLY " in str(error)


class SentinelConnection(redis.sentinel.SentinelManagedConnection):
    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if self.connection_pool.is_master and refused_as_replica(exc):
                self.disconnect()
                raise ConnectionError(DEMOTED) from exc
            raise


class AsyncSentinelConnection(aiosentinel.SentinelManagedConnection):
    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if self.connection_pool.is_master and refused_as_replica(exc):
                await self.disconnect()
                raise ConnectionError(DEMOTED) from exc
            raise


class Sentinel(redis.sentinel.Sentinel):
    def discover_master(self, service_name: str) -> Any:
        try:
            return super().discover_master(service_name)
        except MasterNotFoundError as exc:
            raise MasterNotFoundError(no_master(self.sentinels, service_name, exc)) from None


class AsyncSentinel(aiosentinel.Sentinel):
    async def discover_master(self, service_name: str) -> Any:
        try:
            return await super().discover_master(service_name)
        except aiosentinel.MasterNotFoundError as exc:  # not redis.sentinel's class
            message = no_master(self.sentinels, service_name, exc)
            raise aiosentinel.MasterNotFoundError(message) from None


def no_master(sentinels: list[Any], service_name: str, error: Exception) -> str:
    """One line: which Sentinels were asked and why none named a master."""
    asked = ", ".join(
        "{host}:{port}".format_map(s.connection_pool.connection_kwargs) for s in sentinels
    )
    # redis-py appends "<client repr> - <error repr>" per Sentinel that failed to answer.
    reasons = sorted(set(re.findall(r" - ([\w.:]+)", str(error))))
    why = ", ".join(reasons) if reasons else "none names a master that is up"
    return f"no master {service_name!r} from the Sentinels at {asked} ({why})"
