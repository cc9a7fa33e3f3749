"""The heartbeat a streaming job sends to the ``health`` queue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from workers.states import JobState


class HeartbeatError(ValueError):
    """A heartbeat that cannot be used; the message names the field and the job."""


@dataclass
class Heartbeat:
    """A small snapshot of one job; times are UTC epoch milliseconds."""

    job_key: str
    exchange: str
    worker_id: str
    host: str
    pid: int
    state: JobState
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
    # The sending worker process's load: stream jobs it runs and the most it runs
    # (STREAM_JOBS_PER_PROCESS). None from senders that do not report them.
    worker_jobs: int | None = None
    worker_capacity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Heartbeat:
        """The heartbeat sent as ``data`` (a ``to_dict()``); unknown keys are ignored.

        Sample: ``{"job_key": "binance", "exchange": "binance", "worker_id":
        "host:12:ab", "host": "host", "pid": 12, "state": "streaming",
        "sent_at": 1767225600000, "symbols": ["BTC/USDT"], ...}``.
        Raises HeartbeatError when job_key or worker_id is not a non-empty
        string, sent_at is not an int (ms), state is not a ``JobState``, or
        another field without a default is missing.
        """
        for name in ("job_key", "worker_id"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise HeartbeatError(f"heartbeat without {name}: {dict(data)!r:.200}")
        job_key = data["job_key"]
        sent_at = data.get("sent_at")
        if not isinstance(sent_at, int) or isinstance(sent_at, bool):
            raise HeartbeatError(f"heartbeat of {job_key} without sent_at (ms)")
        state = data.get("state")
        if not isinstance(state, str) or state not in set(JobState):
            raise HeartbeatError(f"heartbeat of {job_key}: bad state {state!r:.40}")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if missing := _missing_fields(cls, known):
            raise HeartbeatError(f"heartbeat of {job_key} without {', '.join(missing)}")
        return cls(**{**known, "state": JobState(state)})


def _missing_fields(cls: type[Heartbeat], known: Mapping[str, Any]) -> list[str]:
    required = (f for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING)
    return [f.name for f in required if f.name not in known]
