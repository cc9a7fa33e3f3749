"""The Redis lease that makes a job's streamer the only one: ``SET key token NX PX ttl``."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

# Renew and release only our own lease: another run's token must never be touched.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Lease:
    """One run's claim on a job key. Renew about every ttl/3; stop when renew fails."""

    def __init__(self, client: aioredis.Redis, key: str, ttl_ms: int, token: str = "") -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = token or uuid.uuid4().hex
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(RELEASE_SCRIPT)

    async def acquire(self) -> bool:
        """True when the lease was free and is now ours."""
        return bool(await self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        """True while the lease is still ours (its ttl is then reset)."""
        return bool(await self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    async def release(self) -> bool:
        """Give the lease up if it is still ours; True when it was."""
        return bool(await self._release(keys=[self.key], args=[self.token]))
