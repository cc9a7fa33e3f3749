"""Wall-clock time as the service stores it: UTC epoch milliseconds."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Now as UTC epoch milliseconds."""
    return time.time_ns() // 1_000_000
