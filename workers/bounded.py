"""Awaiting cleanup that must not hang a shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def within(awaitable: Awaitable[Any], timeout_s: float) -> bool:
    """Await ``awaitable`` for at most ``timeout_s``; True when it finished.

    Unlike ``asyncio.wait_for`` this never waits for a cancelled awaitable to
    acknowledge its cancellation: a library that swallows ``CancelledError``
    (or a socket close that never completes) cannot hang a stopping job.
    Errors of the awaitable are swallowed: this is for best-effort cleanup.
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        return False
    if not task.cancelled():
        task.exception()  # retrieved: a cleanup error is not worth a warning
    return True


def raise_if_cancelling() -> None:
    """Re-raise a cancellation that a library turned into its own error.

    ccxt and redis-py can translate the ``CancelledError`` they receive into a
    network error, or absorb it; a loop that carries on would then never stop.
    ``Task.cancelling()`` still remembers the request.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def to_the_end(awaitable: Awaitable[Any]) -> Any:
    """Await ``awaitable`` to its end even if this task is cancelled meanwhile; then
    re-raise that cancellation. For bounded cleanup (its own steps have timeouts)
    that a stop arriving half-way must not cut short: the job may already be
    cleaning up when its worker's shutdown cancels it.
    """
    task = asyncio.ensure_future(awaitable)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return task.result()
