"""Redis commands per second, from ``INFO commandstats`` deltas (no MONITOR, no proxy).

Counts every command the server ran in a window, by name, including the
commands scripts call (``EVALSHA`` and the ``GET``/``PEXPIRE`` inside it each
count), so a private server (``bench.redis_server``) is needed to see one
deployment alone. The benchmark's own ``INFO`` calls are left out.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import redis

IGNORED = frozenset({"info"})


def command_counts(client: redis.Redis) -> Counter[str]:
    """Calls so far by command name (``cmdstat_hset`` -> ``hset``)."""
    stats = client.info("commandstats")
    return Counter(
        {
            name.removeprefix("cmdstat_"): int(values["calls"])
            for name, values in stats.items()
            if name.removeprefix("cmdstat_") not in IGNORED
        }
    )


@dataclass(frozen=True)
class Rates:
    """Commands per second in one window, by command name."""

    seconds: float
    per_s: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.per_s.values())


def measure(client: redis.Redis, seconds: float) -> Rates:
    """Commands/s over the next ``seconds`` (the caller keeps its own hands off Redis)."""
    before, started = command_counts(client), time.monotonic()
    time.sleep(seconds)
    after, elapsed = command_counts(client), time.monotonic() - started
    return Rates(elapsed, {name: (after[name] - before[name]) / elapsed for name in after})


def added(busy: Rates, idle: Rates) -> dict[str, float]:
    """Commands/s ``busy`` ran beyond ``idle``, by name, largest first (non-zero only)."""
    names = set(busy.per_s) | set(idle.per_s)
    delta = {n: busy.per_s.get(n, 0.0) - idle.per_s.get(n, 0.0) for n in names}
    kept = {n: round(v, 2) for n, v in delta.items() if abs(v) >= 0.05}
    return dict(sorted(kept.items(), key=lambda item: -item[1]))
