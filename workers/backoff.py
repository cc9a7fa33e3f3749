"""Capped exponential backoff with jitter that forgets failures after a healthy spell."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass


@dataclass
class Backoff:
    """Delays of ``base_s * 2**attempt``, capped at ``cap_s``, with "equal jitter".

    Half of each delay is fixed and half random, so many jobs that failed at
    once do not reconnect in lock-step, yet none retries at once. The attempt
    count resets once the job has been healthy for ``healthy_after_s``.
    """

    base_s: float = 1.0
    cap_s: float = 30.0
    healthy_after_s: float = 30.0
    attempts: int = 0
    _healthy_since: float | None = None

    def next_delay(self) -> float:
        """The delay before the next attempt; counts the attempt."""
        ceiling = min(self.cap_s, self.base_s * 2 ** min(self.attempts, 32))
        self.attempts += 1
        self._healthy_since = None
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def healthy(self, now: float | None = None) -> None:
        """Note a sign of health (a tick); resets the attempts after a healthy spell."""
        now = time.monotonic() if now is None else now
        if self._healthy_since is None:
            self._healthy_since = now
        elif self.attempts and now - self._healthy_since >= self.healthy_after_s:
            self.attempts = 0
