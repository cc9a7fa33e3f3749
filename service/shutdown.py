"""The worker process's stop, taken from the Dramatiq hooks that announce it.

``WorkerShutdown`` is a Dramatiq middleware with three hooks:

- ``before_worker_shutdown`` sets ``stopping``, the one process-wide "the
  worker is stopping" flag: a stream job that a worker thread picks up while the
  process stops must not start, and a running one stops at its next
  supervision tick even if the notice missed it. Then it runs the hooks given
  to ``on_worker_stop`` (the actors stop the process's running stream jobs
  there): the event loop and the broker still run at that point, Dramatiq
  stops the AsyncIO middleware's loop only after every ``before`` hook;
- ``before_worker_boot`` clears it (a worker that boots is not stopping; tests
  boot several in one process);
- ``after_process_boot`` debounces a duplicate SIGTERM. Heroku, honcho and
  process-group kills send SIGTERM to the Dramatiq main process *and* to its
  worker children; the main process forwards its own, so a child sees two at
  once, and Dramatiq reads a second SIGTERM as "exit now, no cleanup": streaming
  jobs could not release their leases or send a final heartbeat. A repeat within
  ``DUPLICATE_WINDOW_S`` of the first is the same request and ignored; a later
  one still means "kill now".

Dramatiq has no hook for signals, so the debounce wraps a handler; the hook
says which one. Only ``dramatiq.cli.worker_process`` emits ``process_boot``,
on the worker process's main thread, after installing its SIGTERM handler: the
handler found there is Dramatiq's, without recognising it by its private name.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware

from service.logs import get_logger

log = get_logger(__name__)

DUPLICATE_WINDOW_S = 3.0
stopping = threading.Event()
StopHook = Callable[[], None]
_stop_hooks: list[StopHook] = []


def on_worker_stop(hook: StopHook) -> StopHook:
    """Run ``hook`` when the worker stops, after ``stopping`` is set, on the thread
    that stops the worker; a hook given twice runs once. Usable as a decorator."""
    if hook not in _stop_hooks:
        _stop_hooks.append(hook)
    return hook


class WorkerShutdown(Middleware):
    """Says when the worker stops, and keeps a duplicate SIGTERM from killing it."""

    def __init__(self, duplicate_window_s: float = DUPLICATE_WINDOW_S) -> None:
        self.duplicate_window_s = duplicate_window_s

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        debounce_sigterm(self.duplicate_window_s)

    def before_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stopping.clear()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        stopping.set()
        for hook in tuple(_stop_hooks):
            try:
                hook()
            except Exception:  # one failing hook must not skip the others or the stop
                log.exception("worker stop hook failed", hook=getattr(hook, "__name__", hook))


def debounce_sigterm(window_s: float = DUPLICATE_WINDOW_S) -> bool:
    """Wrap the process's Python SIGTERM handler so that a repeat within ``window_s``
    is ignored; False (nothing done) when there is none or this is not the main thread."""
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or threading.current_thread() is not threading.main_thread():
        return False
    first_at: float | None = None

    def handler(signum: int, frame: FrameType | None) -> Any:
        nonlocal first_at
        now = time.monotonic()
        if first_at is not None and now - first_at < window_s:
            return None
        first_at = first_at or now
        return previous(signum, frame)

    signal.signal(signal.SIGTERM, handler)
    return True
