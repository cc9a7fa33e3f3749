"""Market history as ``status`` and ``/metrics`` show it, read from Redis alone.

The stream summaries of the beat's last history pass, rows written by the
backfill per stream, exchanges backed off after a 429/418 and streams whose
last page failed: a gap is never silent.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import redis

from service.errors import StoreError
from service.history.budget import Backoff, read_backoffs
from service.history.retry import RetryState, read_retries
from service.history.summary import StreamSummary, read_summaries
from service.keys import Keys
from workers.clock import now_ms
from workers.redis_text import text


@dataclass(frozen=True)
class HistoryHealth:
    """Every history stream's summary and what holds the backfill back, at ``at_ms``."""

    at_ms: int
    streams: tuple[StreamSummary, ...]
    written: dict[str, int]  # stream -> rows written by the backfill
    backoffs: tuple[Backoff, ...]
    failing: tuple[RetryState, ...]

    @property
    def gap_minutes(self) -> float:
        return sum(s.gap_minutes for s in self.streams)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``status --json``)."""
        return {
            "at": self.at_ms,
            "gap_minutes": self.gap_minutes,
            "streams": [
                {
                    **asdict(s),
                    "lag_s": s.lag_s(self.at_ms),
                    "written": self.written.get(s.stream, 0),
                }
                for s in self.streams
            ],
            "backoffs": [asdict(b) for b in self.backoffs],
            "failing": [asdict(r) for r in self.failing],
        }


def load_history_health(
    client: redis.Redis, keys: Keys, *, now: int | None = None
) -> HistoryHealth:
    """What Redis holds of market history now. Raises StoreError."""
    try:
        written = {text(k): int(v) for k, v in client.hgetall(keys.history_written()).items()}
    except redis.RedisError as exc:
        raise StoreError(f"reading history counters: {exc}") from exc
    return HistoryHealth(
        at_ms=now if now is not None else now_ms(),
        streams=tuple(read_summaries(client, keys)),
        written=written,
        backoffs=tuple(read_backoffs(client, keys)),
        failing=tuple(read_retries(client, keys)),
    )
