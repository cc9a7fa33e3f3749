"""The Redis lease that makes a job's streamer the only one: ``SET key token NX PX ttl``."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from workers.scripts import COMPARE_AND_DELETE, COMPARE_AND_RENEW


class Lease:
    """One run's claim on a job key. Renew about every ttl/3; stop when renew fails.

    Renew and release only touch our own lease: another run's token is never changed.
    """

    def __init__(self, client: aioredis.Redis, key: str, ttl_ms: int, token: str = "") -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = token or uuid.uuid4().hex

    async def acquire(self) -> bool:
        """True when the lease was free and is now ours."""
        return bool(await self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        """True while the lease is still ours (its ttl is then reset)."""
        renewed = await COMPARE_AND_RENEW.run_async(
            self.client, [self.key], [self.token, self.ttl_ms]
        )
        return bool(renewed)

    async def release(self) -> bool:
        """Give the lease up if it is still ours; True when it was."""
        return bool(await COMPARE_AND_DELETE.run_async(self.client, [self.key], [self.token]))
