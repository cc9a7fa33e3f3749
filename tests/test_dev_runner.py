"""``ticker-service dev`` end to end: a real runner, its real children, a real stop.

Every process the runner starts inherits a marker variable from the test, so
the test finds all of them (the worker's own children too) in ``/proc`` and
can prove none survives the runner.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from bench.procs import BIN
from service.db import repo
from service.db.migrate import upgrade
from service.db.session import migrated_session
from service.devrun.ports import free_port
from service.devrun.seed import DEMO_EXCHANGES, SimulatedExchange, demos_to_run, seed_demo
from service.keys import Keys
from workers.redis_text import text

pytestmark = pytest.mark.e2e

TICKING_WITHIN_S = 15.0
STOP_WITHIN_S = 20.0
MARKER = "TICKER_DEV_TEST_MARK"


class DevRunner:
    """``ticker-service dev`` as a subprocess; its lines are kept; everything is stopped after."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.mark = uuid.uuid4().hex
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [str(BIN / "ticker-service"), "dev", *args],
            env={**env, MARKER: self.mark},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, pattern: str, timeout_s: float = 30.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if found := regex.search(line):
                        return found
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and seen == len(self.lines)):
                    pytest.fail(f"no line matches {pattern!r}; output:\n{self.output()}")
                self._changed.wait(min(left, 0.5))

    def output(self) -> str:
        return "\n".join(self.lines[-80:])

    def started_pids(self) -> dict[str, int]:
        """What the runner said it started: name -> pid."""
        found = (re.search(r"started (\S+) \(pid (\d+)\)", line) for line in list(self.lines))
        return {m.group(1): int(m.group(2)) for m in found if m}

    def descendants(self) -> dict[int, str]:
        """Live processes of this run: pid -> cmdline.

        Those carrying the marker, plus the pids the runner announced: redis-server
        rewrites its title over its environment, so the marker cannot find it.
        """
        found = marked_processes(self.mark)
        for pid in self.started_pids().values():
            if (cmdline := live_cmdline(pid)) is not None:
                found[pid] = cmdline
        found.pop(self.proc.pid, None)
        return found

    def sigterm(self) -> tuple[int, float]:
        """One SIGTERM to the runner; its exit code and the seconds it took."""
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(STOP_WITHIN_S + 10)
        return code, time.monotonic() - began

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_WITHIN_S + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.descendants():  # a failed test must not leak processes
            os.kill(pid, signal.SIGKILL)


def marked_processes(mark: str) -> dict[int, str]:
    """Live processes whose environment holds ``MARKER=mark``: pid -> cmdline."""
    wanted = f"{MARKER}={mark}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or wanted not in _environ(entry):
            continue
        if (cmdline := live_cmdline(int(entry.name))) is not None:
            found[int(entry.name)] = cmdline
    return found


def _environ(proc_dir: Path) -> list[bytes]:
    try:
        return (proc_dir / "environ").read_bytes().split(b"\0")
    except OSError:
        return []  # gone, or not ours to read


def live_cmdline(pid: int) -> str | None:
    """The command line of ``pid``, or None when it is gone or a zombie."""
    try:
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return None


@pytest.fixture
def run_dev() -> Iterator[Any]:
    runners: list[DevRunner] = []

    def start(args: list[str], **env: str) -> DevRunner:
        base = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TICKER_KEY_PREFIX", "DRAMATIQ_NAMESPACE")
        }
        runners.append(DevRunner(args, {**base, **env}))
        return runners[-1]

    yield start
    for runner in runners:
        runner.close()


def demo_symbols(database_url: str) -> dict[str, set[str]]:
    with migrated_session(database_url) as session:
        rows = repo.list_symbols(session)
    return {
        name: {r.symbol for r in rows if r.exchange == name} for name in {r.exchange for r in rows}
    }


def seconds_until_ticking(
    client: redis.Redis, keys: Keys, symbols: dict[str, set[str]], since: float, limit_s: float
) -> float:
    """Seconds from ``since`` until every symbol has a tick on its board; fails after limit_s."""
    while True:
        missing = {
            name: wanted - {text(f) for f in client.hkeys(keys.board(name))}  # type: ignore[union-attr]
            for name, wanted in symbols.items()
        }
        elapsed = time.monotonic() - since
        if not any(missing.values()):
            return elapsed
        if elapsed > limit_s:
            pytest.fail(f"no tick after {limit_s} s for {missing}")
        time.sleep(0.1)


def status_json(redis_url: str, timeout_s: float = 15.0, **env: str) -> dict[str, Any]:
    """``ticker-service status --json`` once it exits 0 (every desired job up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        done = subprocess.run(
            [str(BIN / "ticker-service"), "status", "--json"],
            env={**os.environ, "REDIS_URL": redis_url, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
        if done.returncode == 0 or time.monotonic() > deadline:
            assert done.returncode == 0, done.stdout + done.stderr
            return dict(json.loads(done.stdout))
        time.sleep(0.5)


def healthz(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_dev_without_redis_starts_its_own_ticks_every_demo_symbol_and_stops_all_on_sigterm(
    run_dev: Any, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{tmp_path / 'dev.db'}"
    web_port = free_port()
    dev = run_dev(
        ["--web-port", str(web_port)], REDIS_URL="redis://127.0.0.1:1/0", DATABASE_URL=database_url
    )
    redis_url = dev.wait_for(r"REDIS_URL=(\S+) ticker-service status --watch").group(1)
    symbols = demo_symbols(database_url)
    assert {name: len(s) for name, s in symbols.items()} == {"demo-binance": 24, "demo-okx": 24}

    client = redis.Redis.from_url(redis_url)
    seconds = seconds_until_ticking(client, Keys(), symbols, dev.started_at, TICKING_WITHIN_S)
    client.close()
    print(f"\nevery demo symbol ticking {seconds:.1f} s after `ticker-service dev`")

    status = status_json(redis_url)
    assert {job["job_key"]: job["state"] for job in status["jobs"]} == {
        "demo-binance": "up",
        "demo-okx": "up",
    }
    code, body = healthz(web_port)
    assert (code, body["healthy"]) == (200, True)

    children = dev.descendants()
    assert any("redis-server" in cmd for cmd in children.values()), children
    assert set(dev.started_pids()) == {"redis", "worker", "sim-binance", "sim-okx", "beat", "web"}
    exit_code, stop_s = dev.sigterm()
    print(f"runner stopped {len(children)} processes in {stop_s:.1f} s")
    assert exit_code == 0, dev.output()
    assert stop_s < STOP_WITHIN_S
    assert {pid: cmd for pid, cmd in children.items() if live_cmdline(pid) is not None} == {}
    assert dev.descendants() == {}


def test_dev_with_a_redis_uses_it_and_stops_everything_with_exit_1_when_a_child_dies(
    run_dev: Any, tmp_path: Path, redis_url: str, key_prefix: str, keys: Keys,
    redis_client: redis.Redis,
) -> None:  # fmt: skip
    database_url = f"sqlite:///{tmp_path / 'dev.db'}"
    dev = run_dev(
        ["--web-port", str(free_port()), "--symbols", "6"],
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        TICKER_KEY_PREFIX=key_prefix,
        DRAMATIQ_NAMESPACE=f"{key_prefix}:dramatiq",
    )
    dev.wait_for(r"using the Redis at ")
    dev.wait_for(r"stop:\s+Ctrl-C")
    symbols = demo_symbols(database_url)
    seconds = seconds_until_ticking(redis_client, keys, symbols, dev.started_at, TICKING_WITHIN_S)
    print(f"\nevery demo symbol ticking {seconds:.1f} s after `ticker-service dev`")
    children = dev.descendants()
    assert not any("redis-server" in cmd for cmd in children.values()), children
    assert "redis" not in dev.started_pids()

    os.kill(dev.started_pids()["web"], signal.SIGKILL)
    assert dev.proc.wait(STOP_WITHIN_S) == 1
    dev.wait_for(r"web \(pid \d+\) exited with code -9: stopping everything")
    assert dev.descendants() == {}


def test_a_second_run_points_the_demo_rows_at_its_new_simulator_ports(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'dev.db'}"
    binance, okx = DEMO_EXCHANGES
    upgrade(database_url)
    assert demos_to_run(database_url) == [binance, okx]
    seed_demo(database_url, [SimulatedExchange(binance, "127.0.0.1", 1111, ("BTC/USDT",))])
    assert demos_to_run(database_url) == [binance]  # demo-okx was not seeded: it stays out

    changes = seed_demo(
        database_url, [SimulatedExchange(binance, "127.0.0.1", 2222, ("BTC/USDT", "ETH/USDT"))]
    )

    assert changes == ["pointed demo-binance at port 2222, added 1 symbols"]
    with migrated_session(database_url) as session:
        (row,) = repo.list_exchanges(session)
    assert row.ccxt_params["urls"]["api"]["public"] == "http://127.0.0.1:2222/api/v3"
    assert (row.symbols_total, row.ccxt_id) == (2, "binance")
