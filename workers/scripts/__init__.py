"""The Lua scripts the service runs in Redis: ``.lua`` files, registered once.

As Dramatiq does, the scripts live as ``.lua`` files beside this module and
are registered once, at import: each ``LuaScript`` holds one redis-py
``Script`` (sync) and one ``AsyncScript`` whose SHA is computed here, and any
client runs it (``EVALSHA``, loading the script on a server that lacks it).
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.commands.core import AsyncScript, Script


def source(name: str) -> str:
    """The text of ``workers/scripts/{name}.lua``."""
    return files(__package__).joinpath(f"{name}.lua").read_text()


class LuaScript:
    """One script, runnable on any sync or asyncio redis-py client."""

    def __init__(self, name: str) -> None:
        self.name = name
        text = source(name)
        # Clients are lazy: these connect nowhere; they only lend their encoder for the SHA.
        self._sync = Script(redis.Redis(), text)
        self._async = AsyncScript(aioredis.Redis(), text)

    def run(self, client: redis.Redis, keys: list[Any], args: list[Any]) -> Any:
        """Run on a sync client (or pipeline); returns the script's reply."""
        return self._sync(keys=keys, args=args, client=client)

    async def run_async(self, client: aioredis.Redis, keys: list[Any], args: list[Any]) -> Any:
        """Run on an asyncio client; returns the script's reply."""
        return await self._async(keys=keys, args=args, client=client)


# Delete a key only while it holds our token (leases, the beat lock).
COMPARE_AND_DELETE = LuaScript("compare_and_delete")
# Renew a key while it holds our token, or take it when it is free (leases, the beat lock).
HOLD_LOCK = LuaScript("hold_lock")
# A job's desired spec, or whether the desired state (its marker) exists.
READ_SPEC = LuaScript("read_spec")
# The whole desired state with its marker, when the marker is absent.
RESTORE_DESIRED = LuaScript("restore_desired")
# One request from an exchange's shared token bucket, unless the exchange is backed off.
TAKE_TOKEN = LuaScript("take_token")
