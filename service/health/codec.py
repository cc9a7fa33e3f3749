"""Reading and writing the registry's JSON values, leniently: one bad value is never fatal."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def loads(raw: bytes | str | None) -> dict[str, Any] | None:
    """A stored JSON object, or None when absent or unreadable."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def decode(raw: bytes | str | None, parse: Callable[[Mapping[str, Any]], T]) -> T | None:
    """The record stored as ``raw`` (``parse`` of its JSON), or None when absent or unusable."""
    data = loads(raw)
    if data is None:
        return None
    try:
        return parse(data)
    except (ValueError, TypeError, KeyError):  # one bad value is never fatal
        return None
