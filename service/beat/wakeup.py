"""Reconcile now: an edit wakes the beat, and a burst of edits makes one pass.

Who wakes it: the CLI publishes on ``beat_wakeup`` after it commits an edit
(``publish_wakeup``), and on Postgres a trigger notifies the beat's LISTEN
connection (``service.beat.listen``). Each notice calls ``Wakeup.request``.

The wake-up thread (``Wakeup.run``) waits until the burst settles (``SETTLE_S``
without a new notice, at most ``MAX_DELAY_S`` after the first one), then runs
the beat's own reconcile pass, so the beat lock, the status record and the
log line are the same as for a scheduled reconcile; a standby beat skips it.
A notice that arrives while a pass runs starts one more pass after it: that
pass may have read the database before the edit was committed.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from service.errors import StoreError
from service.keys import Keys
from service.logs import get_logger

if TYPE_CHECKING:  # the CLI imports publish_wakeup: keep the beat's modules out of it
    from service.beat.runner import Beat

log = get_logger(__name__)

# Long enough to gather the statements of one CLI command or SQL script, short
# enough that an edit is applied well within 2 s.
SETTLE_S = 0.15
MAX_DELAY_S = 0.75
# Another reconcile of this beat is running: try again this often until it ends.
BUSY_RETRY_S = 0.1
# How often the idle thread looks at the stop event.
IDLE_POLL_S = 0.5
MAX_REASONS = 10

RunPass = Callable[[], bool]


def publish_wakeup(client: redis.Redis, keys: Keys, reason: str) -> int:
    """Tell every listening beat that ``reason`` (e.g. "symbols add binance") was committed.

    Returns how many beats heard it (0: none is listening). Raises StoreError.
    """
    payload = json.dumps({"reason": reason, "at": int(time.time() * 1000)})
    try:
        return int(client.publish(keys.beat_wakeup(), payload))
    except redis.RedisError as exc:
        raise StoreError(f"telling the beat: {exc}") from exc


def reconcile_now(beat: Beat) -> bool:
    """One reconcile pass for a wake-up; False when another pass is running (retry later)."""
    if beat.reconcile_pass() is not None:
        return True
    # None: a standby beat (nothing to do), or this beat's scheduled reconcile is running.
    return not beat.active


class Wakeup:
    """Gathers wake-up requests from any thread and runs ``run_pass`` once per burst."""

    def __init__(
        self, run_pass: RunPass, *, settle_s: float = SETTLE_S, max_delay_s: float = MAX_DELAY_S
    ) -> None:
        self._run_pass = run_pass
        self.settle_s = settle_s
        self.max_delay_s = max_delay_s
        self._cond = threading.Condition()
        self._first: float | None = None
        self._last = 0.0
        self._reasons: set[str] = set()
        self.passes = 0

    def request(self, reason: str) -> None:
        """Ask for a reconcile soon; cheap and safe from any thread."""
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            if len(self._reasons) < MAX_REASONS:
                self._reasons.add(reason)
            self._cond.notify()

    def run(self, stop: threading.Event) -> None:
        """Serve requests until ``stop`` is set (the thread's target)."""
        while not stop.is_set():
            reasons = self._next_burst(stop)
            if reasons is not None:
                self._reconcile(reasons, stop)

    def _next_burst(self, stop: threading.Event) -> list[str] | None:
        """The reasons of the next settled burst; None when idle for a while."""
        with self._cond:
            if self._first is None:
                self._cond.wait(IDLE_POLL_S)
                if self._first is None:
                    return None
            while not stop.is_set():
                due = min(self._last + self.settle_s, self._first + self.max_delay_s)
                left = due - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            reasons = sorted(self._reasons)
            self._first = None
            self._reasons.clear()
            return reasons

    def _reconcile(self, reasons: list[str], stop: threading.Event) -> None:
        log.info("beat woken", reasons=reasons)
        while not stop.is_set():
            try:
                done = self._run_pass()
            except Exception:  # the pass records its own errors; this thread must live on
                log.exception("beat wake-up pass crashed")
                done = True
            if done:
                self.passes += 1
                return
            stop.wait(BUSY_RETRY_S)
