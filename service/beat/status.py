"""The result of one beat pass, written to ``beat_status`` for ``ticker-service status``.

``beat_status`` is a hash: field ``reconcile``, ``supervise`` or ``history`` -> JSON of the
last pass of that kind::

    {"at": 1767225600000, "duration_ms": 12.5, "outcome": "ok", "error": null,
     "jobs": 3, "enqueued": 1, "beat_id": "host:123:ab12cd34",
     "skipped_rows": [{"table": "symbols", "name": "btc-usdt", "column": "symbol",
                       "exchange": "binance", "id": 12, "error": "..."}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import redis

from service.db.skipped import SkippedRow
from service.errors import StoreError
from service.keys import Keys
from workers.redis_text import text


class PassKind(StrEnum):
    """The passes the beat runs, each a field of ``beat_status``."""

    RECONCILE = "reconcile"
    SUPERVISE = "supervise"
    HISTORY = "history"  # gaps -> history tasks (jobs: wanted streams, enqueued: tasks)


class PassOutcome(StrEnum):
    """How a pass ended: ``ERROR`` when it raised or an enqueue failed."""

    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class PassStatus:
    """One pass: when (UTC epoch ms), how long, how it ended and what it did."""

    kind: PassKind
    at: int
    duration_ms: float
    outcome: PassOutcome
    beat_id: str
    jobs: int = 0
    enqueued: int = 0
    error: str | None = None
    skipped_rows: tuple[SkippedRow, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        del data["kind"]  # the hash field already says it
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, kind: str, raw: str | bytes) -> PassStatus:
        """The pass stored as ``raw``; raises ValueError or KeyError when unusable."""
        return cls.from_dict(kind, json.loads(raw))

    @classmethod
    def from_dict(cls, kind: str, data: Mapping[str, Any]) -> PassStatus:
        """The pass ``kind`` stored as ``data``; counts and ``beat_id`` may be absent.

        Raises ValueError or KeyError when ``kind``, ``at`` (ms), ``duration_ms``
        or ``outcome`` is missing or unusable.
        """
        at = data["at"]
        if not isinstance(at, int) or isinstance(at, bool):
            raise ValueError(f"{kind} pass without at (ms)")
        return cls(
            kind=PassKind(kind),
            at=at,
            duration_ms=float(data["duration_ms"]),
            outcome=PassOutcome(data["outcome"]),
            beat_id=str(data.get("beat_id") or ""),
            jobs=int(data.get("jobs") or 0),
            enqueued=int(data.get("enqueued") or 0),
            error=data.get("error"),
            skipped_rows=tuple(
                SkippedRow.from_dict(row)
                for row in data.get("skipped_rows") or ()
                if isinstance(row, Mapping)
            ),
        )


def write_status(client: redis.Redis, keys: Keys, status: PassStatus) -> None:
    """Record ``status`` as the last pass of its kind. Raises StoreError."""
    try:
        client.hset(keys.beat_status(), status.kind, status.to_json())
    except redis.RedisError as exc:
        raise StoreError(f"writing the beat status: {exc}") from exc


def read_status(client: redis.Redis, keys: Keys) -> dict[str, PassStatus]:
    """The last pass of each kind that has run. Raises StoreError."""
    try:
        raw = client.hgetall(keys.beat_status())
    except redis.RedisError as exc:
        raise StoreError(f"reading the beat status: {exc}") from exc
    return {text(kind): PassStatus.from_json(text(kind), value) for kind, value in raw.items()}
