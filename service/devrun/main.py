"""``run_dev``: a dev run from start to a clean stop, driven by signals."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

from service.devrun.console import Console
from service.devrun.runner import DevOptions, DevRun, check_options
from service.errors import TickerServiceError
from service.settings import Settings

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_dev(options: DevOptions, settings: Settings, console: Console | None = None) -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or a child's death or a failed start (exit 1).

    Everything started is stopped before this returns, whatever happened.
    """
    check_options(options)
    console = console or Console()
    stop = threading.Event()
    previous = _catch(STOP_SIGNALS, lambda signum, frame: stop.set())
    run = DevRun(options, settings, console, stop)
    try:
        run.start()
        code = 0 if stop.is_set() else run.watch()
    except TickerServiceError as exc:
        console.say(f"error: {exc}")
        code = 1
    finally:
        # Ctrl-C while stopping must not interrupt the stop: the stop has its own timeouts.
        _catch(STOP_SIGNALS, lambda signum, frame: None)
        run.stop_all()
        _restore(previous)
    return code


def _catch(signals: tuple[signal.Signals, ...], handler: Callable[..., Any]) -> dict[int, Any]:
    return {sig: signal.signal(sig, handler) for sig in signals}


def _restore(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
