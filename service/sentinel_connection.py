"""Connections to a Sentinel-named master that also leave it when a script is refused.

redis-py's Sentinel connections drop a master that answers READONLY (it was
demoted to a replica) and ask the Sentinels again on the next connect. A Lua
script that writes gets the same refusal wrapped in a plain ResponseError
("Error running script ...: -READONLY ..."), which redis-py does not recognise:
the connection would stay on the demoted server, and every lease renewal, beat
lock and Dramatiq fetch on it would fail until Sentinel closes it. These
classes treat that reply as the demotion it is.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio.sentinel as aiosentinel
import redis.sentinel
from redis.exceptions import ConnectionError, ResponseError

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
