"""A private redis-server that can be SIGKILLed and started again, empty, on the same port.

For the benchmarks that count Redis commands (INFO commandstats of a server
nobody else uses) and the tests that take Redis away (no persistence, as on
many managed plans: a restart comes back empty).
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
import time
from types import TracebackType

from service.devrun.ports import LOOPBACK, free_port
from service.devrun.redis_server import find_redis_server, redis_answers

START_TIMEOUT_S = 10.0


class RedisServer:
    """``with RedisServer() as server:`` one redis-server at ``server.url``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://{LOOPBACK}:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="ticker-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it (empty) and wait until it answers; returns time.monotonic() of that."""
        argv = [find_redis_server(), "--bind", LOOPBACK, "--port", str(self.port)]
        argv += ["--save", "", "--appendonly", "no", "--dir", self._dir.name]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not redis_answers(self.url, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.01)
        return time.monotonic()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no save; whatever it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.kill()
        self._dir.cleanup()
