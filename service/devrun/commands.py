"""The command lines and the environment of the service processes a dev run starts."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from service.devrun.ports import LOOPBACK
from service.queues import QUEUES

# Stream messages are acked at once (their jobs run on the worker's event loop, up
# to STREAM_JOBS_PER_PROCESS): the threads only run short actors of both queues.
WORKER_THREADS = 4

# Short intervals so a dev run heals, reports and picks up database edits quickly.
# A variable already set in the environment wins.
DEV_ENV = {
    "SUPERVISE_INTERVAL_S": "2",
    "HEARTBEAT_INTERVAL_S": "2",
    "RECONCILE_INTERVAL_S": "10",
    "LOG_FORMAT": "console",
}


def script(name: str) -> str:
    """A console script of this install: next to our interpreter first (an inactive venv)."""
    beside = Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or name


def child_env(base: Mapping[str, str], *, redis_url: str, database_url: str) -> dict[str, str]:
    env = {**DEV_ENV, **base, "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    env["PYTHONUNBUFFERED"] = "1"  # lines reach the console as they are written
    return env


def cli_argv() -> list[str]:
    return [script("ticker-service")]


def worker_argv(threads: int = WORKER_THREADS, queues: Sequence[str] = QUEUES) -> list[str]:
    """A Dramatiq worker process of this service: one process, ``threads`` threads."""
    return [
        script("dramatiq"),
        "service.workers",
        "--processes",
        "1",
        "--threads",
        str(threads),
        "--queues",
        *queues,
    ]


def beat_argv() -> list[str]:
    return [script("ticker-scheduler")]


def web_argv(port: int) -> list[str]:
    return [*cli_argv(), "serve", "--host", LOOPBACK, "--port", str(port)]
