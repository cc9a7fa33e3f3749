"""Redis replies as text: clients built without ``decode_responses`` return bytes."""

from __future__ import annotations

from typing import overload


@overload
def text(raw: bytes | str) -> str: ...
@overload
def text(raw: bytes | str | None) -> str | None: ...
def text(raw: bytes | str | None) -> str | None:
    """``raw`` decoded as UTF-8 when it is bytes; str and None pass through."""
    return raw.decode() if isinstance(raw, bytes) else raw
