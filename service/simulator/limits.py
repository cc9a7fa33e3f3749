"""A per-window request-weight budget, enforced the way Binance does, and its counters.

Every REST request of the exchange protocol has a weight. Within one window
(a calendar minute by default, as Binance's ``X-MBX-USED-WEIGHT-1M``) the
accepted weight never exceeds ``weight``: a request that would go over is
refused (429, ``Retry-After`` = seconds to the next window) and costs nothing.
A client that keeps sending after a 429 is banned once it has ignored
``ban_after`` refusals: every request then gets 418 until the ban ends; bans
double from ``ban_s`` up to three days, as Binance escalates them.

Per window and endpoint the counters keep requests seen, weight accepted, and
requests refused or failed, so a test can prove a client kept the budget.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

MAX_BAN_S = 3 * 86_400
KEPT_WINDOWS = 120


class Admission(StrEnum):
    ALLOWED = "allowed"
    LIMITED = "limited"  # 429
    BANNED = "banned"  # 418


@dataclass(frozen=True)
class Verdict:
    """What the budget says about one request; ``used`` is the window's accepted weight."""

    admission: Admission
    used: int
    retry_after_s: int = 0
    banned_until_ms: int = 0


@dataclass(frozen=True)
class BudgetLimits:
    """The budget: ``weight`` per ``window_s`` (None: unlimited), the ban rule and length."""

    weight: int | None = None
    window_s: float = 60.0
    ban_after: int = 5
    ban_s: float = 120.0

    def __post_init__(self) -> None:
        if self.weight is not None and self.weight < 1:
            raise ValueError(f"weight={self.weight}: expected at least 1 (or none for no budget)")
        if self.window_s <= 0 or self.ban_s <= 0 or self.ban_after < 0:
            raise ValueError(
                f"window_s={self.window_s}, ban_s={self.ban_s}, ban_after={self.ban_after}: "
                "expected a positive window and ban, and ban_after of 0 or more"
            )


@dataclass
class EndpointCount:
    requests: int = 0
    weight: int = 0
    limited: int = 0
    banned: int = 0
    failed: int = 0


class RequestBudget:
    """The weight budget of one simulator (``weight=None``: unlimited, still counted)."""

    def __init__(self, limits: BudgetLimits | None = None) -> None:
        self.configure(limits or BudgetLimits())
        self.windows: OrderedDict[int, dict[str, EndpointCount]] = OrderedDict()
        self.used: dict[int, int] = {}
        self.bans = 0

    def configure(self, limits: BudgetLimits) -> None:
        """New limits from now on; clears any ban (the counters stay)."""
        self.weight, self.window_ms = limits.weight, int(limits.window_s * 1000)
        self.ban_after, self.ban_ms = limits.ban_after, int(limits.ban_s * 1000)
        self.banned_until_ms = 0
        self.ignored = 0
        self.limited_until_ms = 0
        self.next_ban_ms = self.ban_ms

    def window_start(self, now_ms: int) -> int:
        return now_ms - now_ms % self.window_ms

    def _count(self, endpoint: str, now_ms: int) -> EndpointCount:
        start = self.window_start(now_ms)
        if start not in self.windows:
            self.windows[start] = {}
            while len(self.windows) > KEPT_WINDOWS:
                old, _ = self.windows.popitem(last=False)
                self.used.pop(old, None)
        counts = self.windows[start]
        return counts.setdefault(endpoint, EndpointCount())

    def admit(self, endpoint: str, weight: int, now_ms: int) -> Verdict:
        """Count one request of ``endpoint`` weighing ``weight`` at ``now_ms``; the verdict."""
        count = self._count(endpoint, now_ms)
        count.requests += 1
        start = self.window_start(now_ms)
        used = self.used.get(start, 0)
        if now_ms < self.banned_until_ms:
            count.banned += 1
            return self._banned(used, now_ms)
        if self.weight is not None and used + weight > self.weight:
            verdict = self._limit(used, now_ms)
            if verdict.admission == Admission.BANNED:
                count.banned += 1
            else:
                count.limited += 1
            return verdict
        self.used[start] = used + weight
        count.weight += weight
        return Verdict(Admission.ALLOWED, used + weight)

    def _limit(self, used: int, now_ms: int) -> Verdict:
        if now_ms < self.limited_until_ms:
            self.ignored += 1  # sent while told to wait
            if self.ignored > self.ban_after:
                self.banned_until_ms = now_ms + self.next_ban_ms
                self.next_ban_ms = min(2 * self.next_ban_ms, MAX_BAN_S * 1000)
                self.ignored = 0
                self.bans += 1
                return self._banned(used, now_ms)
        self.limited_until_ms = self.window_start(now_ms) + self.window_ms
        retry = math.ceil((self.limited_until_ms - now_ms) / 1000)
        return Verdict(Admission.LIMITED, used, retry_after_s=max(1, retry))

    def _banned(self, used: int, now_ms: int) -> Verdict:
        retry = max(1, math.ceil((self.banned_until_ms - now_ms) / 1000))
        return Verdict(Admission.BANNED, used, retry, self.banned_until_ms)

    def failed(self, endpoint: str, now_ms: int) -> None:
        """Count an injected failure of ``endpoint`` (see ``faults.FaultSwitch``)."""
        self._count(endpoint, now_ms).failed += 1

    def state(self) -> dict[str, Any]:
        """The limits, the ban, and the counters per window (oldest first)."""
        return {
            "weight": self.weight,
            "window_s": self.window_ms / 1000,
            "ban_after": self.ban_after,
            "ban_s": self.ban_ms / 1000,
            "banned_until_ms": self.banned_until_ms or None,
            "bans": self.bans,
            "max_window_weight": max(self.used.values(), default=0),
            "windows": [
                {
                    "start_ms": start,
                    "weight": self.used.get(start, 0),
                    "endpoints": {name: asdict(c) for name, c in counts.items()},
                }
                for start, counts in self.windows.items()
            ],
        }
