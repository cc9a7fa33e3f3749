"""Reading every JSON string key of one family (``{head}{name}{tail}``) in two round trips."""

from __future__ import annotations

import json
from typing import Any

import redis

from service.errors import StoreError
from workers.redis_text import text


def scan_json(
    client: redis.Redis, pattern: str, head: str, tail: str, what: str
) -> list[tuple[str, Any]]:
    """(name, decoded JSON) of every key matching ``pattern``, by name; ``name`` is the key
    without ``head`` and ``tail``. Keys that expire between the scan and the read are left
    out. Raises StoreError naming ``what``."""
    try:
        found = sorted(text(k) for k in client.scan_iter(pattern))
        values = client.mget(found) if found else []
    except redis.RedisError as exc:
        raise StoreError(f"reading {what}: {exc}") from exc
    return [
        (key[len(head) : len(key) - len(tail)], json.loads(text(raw)))
        for key, raw in zip(found, values, strict=True)
        if raw is not None
    ]
