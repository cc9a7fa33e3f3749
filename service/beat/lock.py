"""The beat lock: one active beat per deployment, taken over when the holder dies.

``SET lock token NX PX ttl`` takes it; the holder renews it with a
compare-and-set script (only while the stored token is still its own) every
few seconds; a standby beat keeps trying and gets it within about one ttl of
the holder's last renewal. Release is compare-and-delete, so a beat never
drops a lock another beat has taken since.
"""

from __future__ import annotations

import redis

from service.errors import StoreError

# Renew when we hold it, take it when nobody does; 1 = we hold it now.
HOLD_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def lock_ttl_s(supervise_interval_s: float) -> float:
    """Three supervision intervals, at least 3 s: a missed renewal or two is tolerated."""
    return max(3.0, 3 * supervise_interval_s)


class BeatLock:
    """A Redis lock held under ``token`` (the beat id) and renewed by ``hold()``."""

    def __init__(self, client: redis.Redis, key: str, token: str, *, ttl_s: float) -> None:
        self.key = key
        self.token = token
        self.ttl_ms = int(ttl_s * 1000)
        self._hold = client.register_script(HOLD_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    def hold(self) -> bool:
        """Take or renew the lock; True when this beat holds it now. Raises StoreError."""
        try:
            return bool(self._hold(keys=[self.key], args=[self.token, self.ttl_ms]))
        except redis.RedisError as exc:
            raise StoreError(f"holding the beat lock: {exc}") from exc

    def release(self) -> bool:
        """Drop the lock if this beat holds it; True when it did. Raises StoreError."""
        try:
            return bool(self._release(keys=[self.key], args=[self.token]))
        except redis.RedisError as exc:
            raise StoreError(f"releasing the beat lock: {exc}") from exc
