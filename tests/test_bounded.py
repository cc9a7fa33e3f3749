"""Bounded cleanup helpers of the streaming job."""

from __future__ import annotations

import asyncio

import pytest

from workers.bounded import to_the_end


async def test_a_cleanup_awaited_to_the_end_finishes_although_its_task_is_cancelled() -> None:
    steps: list[str] = []

    async def cleanup() -> None:
        await asyncio.sleep(0.2)
        steps.append("lease released")

    stopping = asyncio.ensure_future(to_the_end(cleanup()))
    await asyncio.sleep(0.05)
    stopping.cancel()  # the worker's shutdown, half-way through the cleanup
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert steps == ["lease released"]


async def test_to_the_end_returns_the_result_when_nothing_cancels_it() -> None:
    async def answer() -> int:
        return 42

    assert await to_the_end(answer()) == 42
