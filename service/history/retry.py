"""When a stream whose page failed is fetched again: capped exponential backoff in Redis.

A failed task records its gap (visible in ``coverage``) and a retry state for
its stream here: the attempts in a row and the time before which the beat
plans nothing for the stream (1 s, 2 s, 4 s ... capped at 300 s). The state
outlives its deadline by ``MEMORY_S`` so the next failure doubles the delay; a
page that succeeds clears it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from service.errors import StoreError
from service.history.scan import scan_json
from service.keys import Keys
from workers.clock import now_ms
from workers.redis_text import text

RETRY_BASE_S = 1.0
RETRY_CAP_S = 300.0
MEMORY_S = 900.0


@dataclass(frozen=True)
class RetryState:
    """A stream in backoff after ``attempts`` failures in a row, until ``until_ms``."""

    stream: str
    attempts: int
    until_ms: int
    error: str


def retry_delay_s(attempts: int) -> float:
    """1 s after the first failure, doubling, capped at 300 s."""
    return min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(max(attempts - 1, 0), 16))


def note_failure(client: redis.Redis, keys: Keys, stream: str, error: str) -> RetryState:
    """Count a failure of ``stream`` and hold it off; returns its state. Raises StoreError."""
    key = keys.history_retry(stream)
    try:
        raw = client.get(key)
        attempts = (json.loads(text(raw))["attempts"] if raw else 0) + 1
        delay_s = retry_delay_s(attempts)
        state = RetryState(stream, attempts, now_ms() + int(delay_s * 1000), error)
        payload = {"attempts": attempts, "until_ms": state.until_ms, "error": error}
        client.set(key, json.dumps(payload), px=int((delay_s + MEMORY_S) * 1000))
    except redis.RedisError as exc:
        raise StoreError(f"recording the failure of {stream}: {exc}") from exc
    return state


def clear(client: redis.Redis, keys: Keys, stream: str) -> None:
    """A page of ``stream`` succeeded: forget its failures. Raises StoreError."""
    try:
        client.delete(keys.history_retry(stream))
    except redis.RedisError as exc:
        raise StoreError(f"clearing the retry state of {stream}: {exc}") from exc


def read_retries(client: redis.Redis, keys: Keys) -> list[RetryState]:
    """Every stream with failures remembered (held or not). Raises StoreError."""
    head = keys.history_retry("")
    found = scan_json(client, keys.history_retry_pattern(), head, "", "history retry states")
    return [
        RetryState(stream, data["attempts"], data["until_ms"], data["error"])
        for stream, data in found
    ]


def held(states: list[RetryState], at_ms: int) -> frozenset[str]:
    """The streams still in backoff at ``at_ms``."""
    return frozenset(s.stream for s in states if s.until_ms > at_ms)
