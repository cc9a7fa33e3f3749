"""Real service processes (workers, beats, web) for end-to-end tests and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from service.devrun.commands import worker_argv
from service.queues import QUEUES, STREAMS_QUEUE
from service.redis_client import sync_client

BIN = Path(sys.executable).parent


def service_env(redis_url: str, key_prefix: str, **extra: str) -> dict[str, str]:
    """Environment of a service process that uses the test's Redis prefix and broker namespace."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "TICKER_KEY_PREFIX": key_prefix,
        "DRAMATIQ_NAMESPACE": f"{key_prefix}:dramatiq",
        "LOG_FORMAT": "json",
        "HEARTBEAT_INTERVAL_S": "1",
        "LEASE_TTL_S": "3",
        "STALE_AFTER_S": "5",
        "TICKER_RECONNECT_DELAY": "0.2",
        "TICKER_RECONNECT_MAX_DELAY": "2",
    }
    env.update(extra)
    return env


class ServiceProcess:
    """One child process, its output in a log file, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout_s: float = 15.0) -> float:
        """One SIGTERM to the process group; returns seconds until it exited."""
        started = time.monotonic()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout_s)
        return time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        try:
            self.terminate(10)
        except subprocess.TimeoutExpired:
            self.kill()
        finally:
            self._log.close()


def worker_args(threads: int = 4, queues: tuple[str, ...] = QUEUES) -> list[str]:
    """The dev runner's worker command line, with fewer threads by default."""
    return worker_argv(threads, queues)


@contextmanager
def started(args: list[str], env: dict[str, str], log_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(args, env, log_path)
    try:
        yield process
    finally:
        process.close()


def enqueue_stream(redis_url: str, namespace: str, job_key: str) -> None:
    """Send ``stream_exchange(job_key)`` as the beat would, without importing the actors."""
    client = sync_client(redis_url)
    broker = RedisBroker(client=client, namespace=namespace)
    try:
        broker.enqueue(
            Message(
                queue_name=STREAMS_QUEUE,
                actor_name="stream_exchange",
                args=(job_key,),
                kwargs={},
                options={},
            )
        )
    finally:
        broker.close()
        client.close()  # RedisBroker.close() leaves a client it was given open
