"""The Redis lease that makes a job's streamer the only one: ``SET key token NX PX ttl``."""

from __future__ import annotations

import time
import uuid

import redis.asyncio as aioredis

from workers.scripts import COMPARE_AND_DELETE, HOLD_LOCK
from workers.states import LeaseHold

# The hold_lock script's replies.
_HOLD = {1: LeaseHold.RENEWED, 2: LeaseHold.RETAKEN, 0: LeaseHold.LOST}


class Lease:
    """One run's claim on a job key. Renew it every second or so; stop when it is lost.

    Renew and release only touch our own lease: another run's token is never changed.
    ``valid()`` says whether the lease is surely still ours: a job whose loop
    stalled past the ttl may have a successor already, so it writes nothing
    until a renewal says otherwise.
    """

    def __init__(self, client: aioredis.Redis, key: str, ttl_ms: int, token: str = "") -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = token or uuid.uuid4().hex
        self.valid_until = 0.0  # monotonic; the ttl counted from before the last success

    def valid(self) -> bool:
        """True while the last take or renewal is younger than the ttl."""
        return time.monotonic() < self.valid_until

    async def acquire(self) -> bool:
        """True when the lease was free and is now ours."""
        sent = time.monotonic()
        taken = bool(await self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))
        if taken:
            self.valid_until = sent + self.ttl_ms / 1000
        return taken

    async def renew(self) -> LeaseHold:
        """Reset our lease's ttl, or take it back when the key is gone (SET NX).

        A missing key means nobody streams the job: Redis restarted empty, or
        this job stalled past its ttl and no successor took the lease. Only
        another run's token (``LOST``) means another streamer.
        """
        sent = time.monotonic()  # Redis set the ttl after this: it expires no sooner
        reply = await HOLD_LOCK.run_async(self.client, [self.key], [self.token, self.ttl_ms])
        held = _HOLD[int(reply)]
        if held != LeaseHold.LOST:
            self.valid_until = sent + self.ttl_ms / 1000
        return held

    async def release(self) -> bool:
        """Give the lease up if it is still ours; True when it was."""
        return bool(await COMPARE_AND_DELETE.run_async(self.client, [self.key], [self.token]))
