"""The heartbeat a streaming job sends to the ``health`` queue."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATES = ("starting", "streaming", "reconnecting", "stale", "failed", "stopped")


@dataclass
class Heartbeat:
    """A small snapshot of one job; times are UTC epoch milliseconds."""

    job_key: str
    exchange: str
    worker_id: str
    host: str
    pid: int
    state: str
    sent_at: int
    symbols: list[str] = field(default_factory=list)
    invalid_symbols: list[str] = field(default_factory=list)
    ticks_total: int = 0
    ticks_per_s: float = 0.0
    last_tick_at: int | None = None
    symbol_last_tick_at: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    generation: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Heartbeat:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
