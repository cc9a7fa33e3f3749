"""The worker's stop: the flag Dramatiq's hooks set, and the duplicate-SIGTERM debounce."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from types import FrameType

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from service import shutdown
from service.shutdown import WorkerShutdown, debounce_sigterm, on_worker_stop, stopping


def test_the_worker_is_stopping_from_its_shutdown_hook_until_a_worker_boots() -> None:
    broker = StubBroker()
    broker.add_middleware(WorkerShutdown())
    stopping.set()
    worker = dramatiq.Worker(broker, worker_timeout=100)
    worker.start()
    assert not stopping.is_set(), "a booting worker is not stopping"
    worker.stop()
    assert stopping.is_set()
    broker.close()
    stopping.clear()


@pytest.fixture
def counting_sigterm() -> Iterator[list[float]]:
    """A Python SIGTERM handler (as Dramatiq's worker installs) that records each call."""
    calls: list[float] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(time.monotonic())

    original = signal.signal(signal.SIGTERM, handler)
    yield calls
    signal.signal(signal.SIGTERM, original)


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.01)  # the handler runs in the main thread at its next instruction


def test_a_second_sigterm_within_the_window_is_the_same_request(
    counting_sigterm: list[float],
) -> None:
    assert debounce_sigterm(window_s=0.3)
    _sigterm()
    _sigterm()
    assert len(counting_sigterm) == 1
    time.sleep(0.35)
    _sigterm()  # later, a repeat still means "kill now": it reaches the handler
    assert len(counting_sigterm) == 2


def test_without_a_python_sigterm_handler_nothing_is_wrapped() -> None:
    original = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert not debounce_sigterm()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)


def test_the_stop_hooks_run_once_each_after_the_flag_is_set_even_if_one_fails() -> None:
    seen: list[str] = []

    def failing() -> None:
        seen.append(f"failing, stopping={stopping.is_set()}")
        raise RuntimeError("boom")

    def second() -> None:
        seen.append(f"second, stopping={stopping.is_set()}")

    for hook in (failing, second, failing):  # a hook given twice runs once
        on_worker_stop(hook)
    try:
        broker = StubBroker()
        broker.add_middleware(WorkerShutdown())
        worker = dramatiq.Worker(broker, worker_timeout=100)
        worker.start()
        worker.stop()
        broker.close()
    finally:
        shutdown._stop_hooks[:] = [h for h in shutdown._stop_hooks if h not in (failing, second)]
        stopping.clear()
    assert seen == ["failing, stopping=True", "second, stopping=True"]
