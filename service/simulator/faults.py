"""The history fault switch: some history pages fail with 5xx, deterministically.

``every=N`` fails the N-th, 2N-th, ... history request (counted from when the
switch was set), so asking again right after a failure succeeds with the same
page (for N >= 2); ``next=K`` fails the next K history requests whatever
``every`` says. Failures alternate between the statuses given (500, 503).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_STATUSES = (500, 503)


@dataclass(frozen=True)
class FaultPlan:
    """Fail every ``every``-th history request and the ``next`` ones (0/None: off)."""

    every: int | None = None
    next: int = 0
    statuses: tuple[int, ...] = DEFAULT_STATUSES

    def __post_init__(self) -> None:
        if (self.every is not None and self.every < 0) or self.next < 0:
            raise ValueError(f"every={self.every}, next={self.next}: expected 0 or more")
        if not self.statuses or any(not 500 <= s <= 599 for s in self.statuses):
            raise ValueError(f"statuses={list(self.statuses)}: expected 5xx codes")


class FaultSwitch:
    """Decides which history requests fail, and with what status."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.set(plan or FaultPlan())

    def set(self, plan: FaultPlan) -> None:
        """Follow ``plan`` from now on, counting requests afresh."""
        self.every, self.next, self.statuses = plan.every or None, plan.next, plan.statuses
        self.seen = 0
        self.failed = 0

    def failure(self) -> int | None:
        """Count one history request; the status it must fail with, or None to serve it."""
        self.seen += 1
        if self.next > 0:
            self.next -= 1
        elif self.every is None or self.seen % self.every:
            return None
        self.failed += 1
        return self.statuses[(self.failed - 1) % len(self.statuses)]

    def state(self) -> dict[str, Any]:
        return {
            "every": self.every,
            "next": self.next,
            "statuses": list(self.statuses),
            "history_requests": self.seen,
            "failed": self.failed,
        }
