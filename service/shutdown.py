"""Make the duplicate SIGTERM of a platform stop a graceful stop, not a kill.

Heroku, honcho and process-group kills send SIGTERM to the Dramatiq main
process *and* to its worker children; the main process forwards its own, so
a child sees two at once, and Dramatiq reads a second SIGTERM as "exit now,
no cleanup". Streaming jobs then could not release their leases or send a
final heartbeat. Inside a worker child we wrap Dramatiq's handler: a repeat
within ``DUPLICATE_WINDOW_S`` of the first is the same request and ignored;
a later one still means "kill now".
"""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType
from typing import Any

DUPLICATE_WINDOW_S = 3.0
# Set at the first SIGTERM: a stream job that a worker thread picks up while the
# process stops (Dramatiq only notifies jobs already running) must not start, and
# a running one stops at its next supervision tick even if the notice missed it.
stopping = threading.Event()


def debounce_sigterm(window_s: float = DUPLICATE_WINDOW_S) -> bool:
    """Wrap Dramatiq's worker SIGTERM handler; False (nothing done) outside a worker child."""
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or getattr(previous, "__name__", "") != "termhandler":
        return False
    first_at: float | None = None

    def handler(signum: int, frame: FrameType | None) -> Any:
        nonlocal first_at
        now = time.monotonic()
        if first_at is not None and now - first_at < window_s:
            return None
        first_at = first_at or now
        stopping.set()
        return previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    return True
