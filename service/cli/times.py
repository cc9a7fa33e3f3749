"""Times on the command line: ISO 8601 (or epoch ms) in, UTC epoch ms inside, ISO 8601 out.

A time without a timezone is read as UTC, and the CLI says so on stderr, so
nobody's local clock silently shifts a backfill by hours.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from service.errors import ValidationError

FORMAT_HINT = "use ISO 8601 such as 2026-11-01T00:00:00Z (or 2026-11-01), or epoch milliseconds"


def parse_time(raw: str, *, option: str) -> int:
    """``raw`` as UTC epoch ms; raises ValidationError naming ``option``.

    Digits are epoch milliseconds; anything else ISO 8601. A time without a
    timezone is UTC, and a note saying so goes to stderr.
    """
    text = raw.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} {raw!r} is not a time: {FORMAT_HINT}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
        shown = format_iso(to_ms(moment))
        print(f"note: {option} {raw} has no timezone: read as UTC ({shown})", file=sys.stderr)
    return to_ms(moment)


def parse_since(raw: str, *, now_ms: int, option: str = "--since") -> int:
    """A backfill start: like ``parse_time``, and not in the future."""
    since = parse_time(raw, option=option)
    if since > now_ms:
        raise ValidationError(
            f"{option} {format_iso(since)} is in the future (now is {format_iso(now_ms)}): "
            "history is backfilled from a past time up to now"
        )
    return since


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def format_iso(ms: int) -> str:
    """``ms`` as ISO 8601 UTC with a ``Z``: ``2026-11-01T00:00:00Z``, milliseconds when not 0."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    if ms % 1000:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
