"""What the ledger says of each stream in a few numbers, for ``status`` and ``/metrics``.

The beat's history pass reads every wanted stream's coverage anyway; it keeps
one ``StreamSummary`` per stream in Redis (``Keys.history_summary``), replaced
whole each pass, so the web process and ``status`` show gaps without a
database query per scrape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import redis

from service.errors import StoreError
from service.history.records import Coverage
from service.keys import Keys
from workers.redis_text import text


@dataclass(frozen=True)
class StreamSummary:
    """One stream's coverage in numbers (times UTC epoch ms)."""

    stream: str  # str(StreamKey): "binance BTC/USDT trades"
    exchange: str
    symbol: str
    kind: str  # trades | candles
    since_ms: int
    until_ms: int  # where the wanted range ends (the start of the current minute)
    complete_until_ms: int  # gap-free from since up to here
    newest_ms: int | None
    gap_minutes: float
    gaps: int
    first_gap_reason: str | None = None
    first_gap_error: str | None = None

    def lag_s(self, now_ms: int) -> float:
        """How far the gap-free history is behind ``now_ms``, in seconds."""
        return max(0.0, (now_ms - self.complete_until_ms) / 1000)


def summarize(coverage: Coverage) -> StreamSummary:
    """The numbers of one coverage."""
    key, wanted = coverage.key, coverage.wanted
    complete_until = wanted.start_ms
    for done in coverage.complete:  # sorted and disjoint: follow the run from since
        if done.start_ms > complete_until:
            break
        complete_until = max(complete_until, done.end_ms)
    first = coverage.gaps[0] if coverage.gaps else None
    return StreamSummary(
        stream=str(key),
        exchange=key.exchange,
        symbol=key.symbol,
        kind=str(key.stream),
        since_ms=wanted.start_ms,
        until_ms=wanted.end_ms,
        complete_until_ms=complete_until,
        newest_ms=coverage.newest_ms,
        gap_minutes=round(coverage.gap_minutes, 3),
        gaps=len(coverage.gaps),
        first_gap_reason=str(first.reason) if first else None,
        first_gap_error=first.error if first else None,
    )


def write_summaries(client: redis.Redis, keys: Keys, summaries: list[StreamSummary]) -> None:
    """Replace the stored summaries with ``summaries`` (one transaction). Raises StoreError."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(keys.history_summary())
    if summaries:
        pipe.hset(
            keys.history_summary(), mapping={s.stream: json.dumps(asdict(s)) for s in summaries}
        )
    try:
        pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"writing history summaries: {exc}") from exc


def read_summaries(client: redis.Redis, keys: Keys) -> list[StreamSummary]:
    """The summaries of the beat's last history pass, by stream. Raises StoreError."""
    try:
        raw = client.hgetall(keys.history_summary())
    except redis.RedisError as exc:
        raise StoreError(f"reading history summaries: {exc}") from exc
    found = []
    for value in raw.values():
        try:
            found.append(StreamSummary(**json.loads(text(value))))
        except (TypeError, ValueError):
            continue  # a value from another version: left out, never fatal
    return sorted(found, key=lambda s: s.stream)
