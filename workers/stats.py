"""What a streaming job counts about itself, for its heartbeats."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

LATENCY_SAMPLES = 4096


@dataclass
class JobStats:
    """Counters updated by the writer per batch (never per socket frame)."""

    ticks_total: int = 0
    reconnects: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_tick_at: int | None = None
    last_tick_monotonic: float = field(default_factory=time.monotonic)
    symbol_last_tick_at: dict[str, int] = field(default_factory=dict)
    latencies_ms: deque[int] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))
    _rate_mark: tuple[float, int] = field(default_factory=lambda: (time.monotonic(), 0))

    def record_batch(self, ticks: Iterable[dict[str, Any]]) -> None:
        count, received_at = 0, 0
        latencies, last_at = self.latencies_ms, self.symbol_last_tick_at
        for tick in ticks:
            count += 1
            received_at = tick["received_at"]
            last_at[tick["symbol"]] = received_at
            if tick["timestamp"] is not None:
                latencies.append(received_at - tick["timestamp"])
        if count:
            self.ticks_total += count
            self.last_tick_at = received_at
            self.last_tick_monotonic = time.monotonic()

    def forget(self, symbols: Iterable[str]) -> None:
        for symbol in symbols:
            self.symbol_last_tick_at.pop(symbol, None)

    def rate(self) -> float:
        """Ticks per second since the previous call."""
        now = time.monotonic()
        then, total = self._rate_mark
        self._rate_mark = (now, self.ticks_total)
        return (self.ticks_total - total) / (now - then) if now > then else 0.0

    def latency_quantiles(self) -> tuple[float | None, float | None]:
        """p50 and p99 of recent (received_at - exchange timestamp), in ms."""
        if not self.latencies_ms:
            return None, None
        ordered = sorted(self.latencies_ms)
        last = len(ordered) - 1
        return float(ordered[int(last * 0.50)]), float(ordered[int(last * 0.99)])
