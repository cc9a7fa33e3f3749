"""Binds the actor and the job key of each message into structlog's contextvars.

Modelled on Dramatiq's ``CurrentMessage`` middleware: bound in
``before_process_message`` on the worker thread, unbound when the message is
done or skipped (worker threads live on and take other messages). A coroutine
an actor hands to the AsyncIO middleware's event loop sees the same values:
``asyncio.run_coroutine_threadsafe`` schedules it with a copy of the calling
thread's context, and the job's tasks inherit that copy.
"""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware
from structlog.contextvars import bind_contextvars, unbind_contextvars


def job_key_of(message: MessageProxy) -> str | None:
    """The job a message is about: ``stream_exchange`` takes the job key, and
    ``record_heartbeat`` a heartbeat whose ``job_key`` names it."""
    first = message.args[0] if message.args else None
    if isinstance(first, dict):
        first = first.get("job_key")
    return first if isinstance(first, str) else None


class LogContext(Middleware):
    """Every log line of an actor (and of the job it runs) carries ``actor=`` and ``job=``."""

    def before_process_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        job = job_key_of(message)
        bind_contextvars(actor=message.actor_name, **({"job": job} if job else {}))

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        unbind_contextvars("actor", "job")

    def after_skip_message(self, broker: dramatiq.Broker, message: MessageProxy) -> None:
        unbind_contextvars("actor", "job")
