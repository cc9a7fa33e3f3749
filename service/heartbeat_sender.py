"""Sends heartbeats from a daemon thread, so neither the event loop nor exit waits on Redis.

A streaming job's loop only puts the heartbeat on a queue. A blocking enqueue
(Redis slow or away) then costs the loop nothing, and, the thread being a
daemon, cannot keep a stopping worker process alive the way a thread pool's
worker thread would. ``flush`` lets the worker thread wait briefly for the
final ``stopped`` heartbeat to go out.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from service.logs import get_logger

log = get_logger(__name__)
QUEUE_SIZE = 1000  # heartbeats are seconds apart; a full queue means Redis is away


class HeartbeatThread:
    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._send = send
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(QUEUE_SIZE)
        self._thread = threading.Thread(target=self._run, name="heartbeats", daemon=True)
        self._thread.start()

    def put(self, heartbeat: dict[str, Any]) -> None:
        """Queue a heartbeat; never blocks (a heartbeat that does not fit is dropped)."""
        try:
            self._queue.put_nowait(heartbeat)
        except queue.Full:
            log.warning("heartbeat dropped: queue full", job=heartbeat.get("job_key"))

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` until every queued heartbeat was sent."""
        done = threading.Event()

        def wait_empty() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait_empty, daemon=True).start()
        return done.wait(timeout_s)

    def _run(self) -> None:
        while True:
            heartbeat = self._queue.get()
            try:
                self._send(heartbeat)
            except Exception as exc:  # health is best effort; the next one may pass
                log.warning("heartbeat not sent", error=str(exc))
            finally:
                self._queue.task_done()
