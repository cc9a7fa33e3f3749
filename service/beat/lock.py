"""The beat lock: one active beat per deployment, taken over when the holder dies.

One script (``workers/scripts/hold_lock.lua``) takes it when it is free and
renews it while the stored token is still the holder's own, every few
seconds; a standby beat keeps trying and gets it within about one ttl of the
holder's last renewal. Release is compare-and-delete, so a beat never
drops a lock another beat has taken since.
"""

from __future__ import annotations

import redis

from service.errors import StoreError
from workers.scripts import COMPARE_AND_DELETE, HOLD_LOCK


def lock_ttl_s(supervise_interval_s: float) -> float:
    """Three supervision intervals, at least 3 s: a missed renewal or two is tolerated."""
    return max(3.0, 3 * supervise_interval_s)


class BeatLock:
    """A Redis lock held under ``token`` (the beat id) and renewed by ``hold()``."""

    def __init__(self, client: redis.Redis, key: str, token: str, *, ttl_s: float) -> None:
        self.client = client
        self.key = key
        self.token = token
        self.ttl_ms = int(ttl_s * 1000)

    def hold(self) -> bool:
        """Take or renew the lock; True when this beat holds it now. Raises StoreError."""
        try:
            return bool(HOLD_LOCK.run(self.client, [self.key], [self.token, self.ttl_ms]))
        except redis.RedisError as exc:
            raise StoreError(f"holding the beat lock: {exc}") from exc

    def release(self) -> bool:
        """Drop the lock if this beat holds it; True when it did. Raises StoreError."""
        try:
            return bool(COMPARE_AND_DELETE.run(self.client, [self.key], [self.token]))
        except redis.RedisError as exc:
            raise StoreError(f"releasing the beat lock: {exc}") from exc
