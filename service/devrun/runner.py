"""One dev run: start Redis, simulators, worker, beat and web; watch them; stop them in order.

Start order: Redis (found or embedded), the worker (it only needs Redis, and
its imports are the slowest), the database (migrate, demo rows for ports
chosen now), then the simulators, the beat (it reconciles at once, so the
rows must be there) and the web process together. Stop order: web and beat,
the worker (its jobs release their leases), the simulators, the embedded Redis.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from service.db.migrate import upgrade
from service.devrun.banner import where_to_look
from service.devrun.children import Child, stop_stage
from service.devrun.commands import beat_argv, child_env, cli_argv, web_argv, worker_argv
from service.devrun.console import Console
from service.devrun.ports import port_or_free
from service.devrun.redis_server import EmbeddedRedis, redis_answers
from service.devrun.seed import SimulatedExchange, demos_to_run, seed_demo
from service.devrun.simulators import plan_simulator, start_simulator, wait_listening
from service.devrun.ticking import TickWatch
from service.errors import ConfigError
from service.keys import Keys
from service.sentinel_url import is_sentinel_url
from service.settings import Settings, redact_url

# Seconds each stop stage may take before its stragglers get SIGKILL.
STOP_TIMEOUTS_S = {"front": 8.0, "worker": 15.0, "simulators": 5.0, "redis": 5.0}
WATCH_EVERY_S = 0.25


@dataclass(frozen=True)
class DevOptions:
    symbols: int = 24
    web_port: int = 8000
    demo: bool = True
    rate: float = 2.0  # events/s per symbol of each simulator


class DevRun:
    def __init__(
        self, options: DevOptions, settings: Settings, console: Console, stop: threading.Event
    ) -> None:
        self.options = options
        self.settings = settings
        self.console = console
        self.stop = stop
        self.started_at = time.monotonic()
        self.redis: EmbeddedRedis | None = None
        self.redis_url = settings.redis_url
        self.front: list[Child] = []  # beat and web
        self.worker: Child | None = None
        self.sims: list[Child] = []
        self.simulated: list[SimulatedExchange] = []

    # -- start ----------------------------------------------------------------

    def start(self) -> None:
        """Start everything; raises ConfigError (or another TickerServiceError) on failure."""
        self._start_redis()
        env = child_env(
            os.environ, redis_url=self.redis_url, database_url=self.settings.database_url
        )
        self.worker = self._spawn("worker", worker_argv(), env)
        upgrade(self.settings.database_url)
        self.console.say(f"database at {redact_url(self.settings.database_url)} is migrated")
        self._start_demo(env)
        if self.stop.is_set():
            return
        self.front.append(self._spawn("beat", beat_argv(), env))
        web_port = port_or_free(self.options.web_port)
        if web_port != self.options.web_port:
            self.console.say(f"port {self.options.web_port} is taken: web on {web_port}")
        self.front.append(self._spawn("web", web_argv(web_port), env))
        for child, sim in zip(self.sims, self.simulated, strict=True):
            wait_listening(child, sim)
        self._show_banner(web_port)

    def _start_redis(self) -> None:
        where = redact_url(self.settings.redis_url)
        if redis_answers(self.settings.redis_url):
            self.console.say(f"using the Redis at {where}")
            return
        if is_sentinel_url(self.settings.redis_url):
            # A Sentinel set is a deliberate choice: a private Redis instead would hide it.
            raise ConfigError(f"REDIS_URL={where!r}: no master answers through these Sentinels")
        self.redis = EmbeddedRedis(self.console, dict(os.environ))
        self.console.say(f"started redis (pid {self.redis.child.pid}): no Redis at {where}")
        self.redis.wait_answering(self.stop)
        self.redis_url = self.redis.url
        self.console.say(f"embedded Redis answers at {self.redis_url}")

    def _start_demo(self, env: dict[str, str]) -> None:
        """Write the demo rows for this run's simulators, then start the simulators."""
        demos = demos_to_run(self.settings.database_url) if self.options.demo else []
        self.simulated = [plan_simulator(demo, self.options.symbols) for demo in demos]
        for change in seed_demo(self.settings.database_url, self.simulated):
            self.console.say(f"demo: {change}")
        for sim in self.simulated:
            child = start_simulator(
                sim, rate=self.options.rate, cli=cli_argv(), env=env, console=self.console
            )
            self.sims.append(child)
            self.console.say(f"started {child.name} (pid {child.pid}) on port {sim.port}")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.console)
        self.console.say(f"started {name} (pid {child.pid}): {' '.join(argv[-6:])}")
        return child

    def _show_banner(self, web_port: int) -> None:
        exchange = self.simulated[0].demo.name if self.simulated else None
        lines = where_to_look(
            redis_url=self.redis_url,
            embedded=self.redis is not None,
            web_port=web_port,
            keys=Keys(self.settings.key_prefix),
            exchange=exchange,
        )
        elapsed = time.monotonic() - self.started_at
        self.console.say(f"all processes started in {elapsed:.1f} s")
        for line in lines:
            self.console.say(f"  {line}")

    # -- watch ------------------------------------------------------------------

    def children(self) -> list[Child]:
        """Every child, in start order."""
        redis = [self.redis.child] if self.redis else []
        worker = [self.worker] if self.worker else []
        return [*redis, *worker, *self.sims, *self.front]

    def watch(self) -> int:
        """Until a stop signal (0) or a child's death (1); says when every demo symbol ticks."""
        ticks = TickWatch(self.redis_url, Keys(self.settings.key_prefix), self.simulated)
        try:
            while not self.stop.wait(WATCH_EVERY_S):
                dead = self.dead_child()
                if dead is not None:
                    self.console.say(f"{dead}: stopping everything")
                    return 1
                message = ticks.check(time.monotonic() - self.started_at)
                if message:
                    self.console.say(message)
        finally:
            ticks.close()
        return 0

    def dead_child(self) -> str | None:
        """A sentence about the first child that exited, or None while all run."""
        for child in self.children():
            code = child.exit_code()
            if code is not None:
                return f"{child.name} (pid {child.pid}) exited with code {code}"
        return None

    # -- stop -------------------------------------------------------------------

    def stop_all(self) -> None:
        """Stop in order, each stage with a timeout; SIGKILL whatever is left of a stage."""
        began = time.monotonic()
        stages = (
            ("front", self.front),
            ("worker", [self.worker] if self.worker else []),
            ("simulators", self.sims),
            ("redis", [self.redis.child] if self.redis else []),
        )
        for stage, children in stages:
            if children:
                self.console.say(f"stopping {', '.join(child.name for child in children)}")
                stop_stage(children, STOP_TIMEOUTS_S[stage], self.console)
        if self.redis is not None:
            self.redis.cleanup()
        self.console.say(f"stopped everything in {time.monotonic() - began:.1f} s")


def check_options(options: DevOptions) -> None:
    if options.symbols < 1:
        raise ConfigError(f"--symbols {options.symbols}: expected at least 1")
    if not 0 < options.web_port < 65536:
        raise ConfigError(f"--web-port {options.web_port}: expected a TCP port (1-65535)")
