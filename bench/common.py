"""Shared pieces of the benchmarks: the machine, /proc readings, a live service, results.

Every benchmark starts what it needs on loopback (simulator and worker
processes), uses its own Redis key prefix and Dramatiq namespace, deletes its
keys and stops every process it started, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

from bench.procs import ServiceProcess, enqueue_stream, service_env, worker_args
from service.keys import Keys
from service.redis_client import sync_client
from service.settings import VARIABLES
from service.simulator.testing import SimulatorProcess
from workers.spec import JobSpec

RESULTS_DIR = Path(__file__).resolve().parent / "results"
JOB_KEY = "bench"  # the one job the single-job benchmarks stream
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
# What service_env shortens for tests (besides heartbeats), and the service's defaults.
SHORTENED = ("LEASE_TTL_S", "STALE_AFTER_S", "TICKER_RECONNECT_DELAY", "TICKER_RECONNECT_MAX_DELAY")
PRODUCTION = {name: VARIABLES[name][0] for name in SHORTENED}
# Every timing a deployment has: what "default settings" means for a measurement.
TIMINGS = (*SHORTENED, "HEARTBEAT_INTERVAL_S", "SUPERVISE_INTERVAL_S", "RECONCILE_INTERVAL_S")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# -- the machine ---------------------------------------------------------------------
def machine(redis_url: str) -> dict[str, Any]:
    """Cores, CPU model, versions and load: what a reader needs to compare figures."""
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "ccxt": _version("ccxt"),
        "dramatiq": _version("dramatiq"),
        "redis_py": _version("redis"),
        "redis_server": _redis_server_version(redis_url),
        "loadavg_at_start": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _redis_server_version(url: str) -> str:
    try:
        return str(sync_client(url).info("server")["redis_version"])
    except redis.RedisError:
        return "unreachable"


# -- /proc ---------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` in seconds (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def parent_pid(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def rss_mb(pid: int) -> float:
    """VmRSS of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


# -- numbers -------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an already sorted sequence."""
    if not ordered:
        return float("nan")
    return float(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))])


def round_order(index: int) -> tuple[str, str]:
    """Who measures first in round ``index``: alternated, so drift in the load hits both."""
    return ("service", "bare") if index % 2 == 0 else ("bare", "service")


def wait_until(check: Callable[[], Any], timeout_s: float, what: str, step_s: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; raises TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step_s)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what}")


# -- a run's Redis prefix ------------------------------------------------------------
@dataclass
class RedisSpace:
    """A unique key prefix (and Dramatiq namespace) in the benchmark's Redis."""

    url: str
    prefix: str
    client: redis.Redis

    @property
    def keys(self) -> Keys:
        return Keys(self.prefix)

    @property
    def namespace(self) -> str:
        return f"{self.prefix}:dramatiq"

    def heartbeat(self, job_key: str) -> dict[str, Any] | None:
        raw = self.client.hget(self.keys.health_jobs(), job_key)
        return json.loads(raw) if raw else None


@contextmanager
def redis_space(url: str, name: str) -> Iterator[RedisSpace]:
    prefix = f"bench:{name}:{uuid.uuid4().hex[:10]}"
    client = sync_client(url)
    try:
        yield RedisSpace(url, prefix, client)
    finally:
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            client.delete(key)
        client.close()


# -- processes -----------------------------------------------------------------------
@contextmanager
def simulator(symbols: int, rate: float, seed: int = 7) -> Iterator[SimulatorProcess]:
    with SimulatorProcess("binance", symbols=symbols, rate=rate, seed=seed) as sim:
        yield sim


@contextmanager
def job_simulator(
    space: RedisSpace, job_key: str, symbols: int, rate: float
) -> Iterator[SimulatorProcess]:
    """A simulator of ``symbols`` symbols, with ``job_key`` desired on all of them."""
    with simulator(symbols, rate=rate) as sim:
        put_job(space, sim, job_key, sim_symbols(sim))
        yield sim


def sim_symbols(sim: SimulatorProcess) -> list[str]:
    return sorted(sim.client.symbols())


def put_job(space: RedisSpace, sim: SimulatorProcess, job_key: str, symbols: list[str]) -> None:
    """Write the job's desired state the way the beat does (one JobSpec in the hash)."""
    spec = JobSpec(
        job_key=job_key,
        exchange=job_key,
        ccxt_id="binance",
        symbols=tuple(symbols),
        ccxt_params=sim.ccxt_params,
        generation=1,
    )
    space.client.hset(space.keys.desired(), job_key, spec.to_json())


@dataclass
class Worker:
    """A real ``dramatiq service.workers`` process; ``pid`` is the child that runs the job."""

    process: ServiceProcess
    pid: int


@contextmanager
def streaming_worker(
    space: RedisSpace, job_key: str, log_dir: Path, timeout_s: float = 30.0, **env: str
) -> Iterator[Worker]:
    """One worker process streaming ``job_key`` (its desired state must be set)."""
    environment = service_env(space.url, space.prefix, DRAMATIQ_NAMESPACE=space.namespace)
    # The service's own defaults, not the shortened ones of the tests: at full rate the
    # job's event loop can stall for a second or more.
    # Heartbeats every second only so the benchmark reads ticks_total often.
    environment.update(PRODUCTION, LOG_LEVEL="WARNING", HEARTBEAT_INTERVAL_S="1", **env)
    log_path = log_dir / f"worker-{uuid.uuid4().hex[:6]}.log"
    process = ServiceProcess(worker_args(), environment, log_path)
    try:
        enqueue_stream(space.url, space.namespace, job_key)
        beat = wait_until(
            lambda: _streaming_beat(space, job_key, process), timeout_s, "a streaming heartbeat"
        )
        yield Worker(process, int(beat["pid"]))
    finally:
        process.close()
        space.client.delete(space.keys.lease(job_key), space.keys.health_jobs())


def _streaming_beat(space: RedisSpace, job_key: str, process: ServiceProcess) -> Any:
    if process.proc.poll() is not None:
        raise RuntimeError(f"worker exited early:\n{process.output()[-2000:]}")
    beat = space.heartbeat(job_key)
    if not beat or beat.get("state") != "streaming" or not beat["ticks_total"]:
        return None
    # A previous round's heartbeat may still sit in the health queue: take only ours.
    try:
        return beat if parent_pid(int(beat["pid"])) == process.pid else None
    except OSError:
        return None


@contextmanager
def log_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-") as path:
        yield Path(path)


# -- results -------------------------------------------------------------------------
def command_line() -> str:
    return " ".join(["python", "-m", "bench.run", *sys.argv[1:]])


def write_results(name: str, payload: dict[str, Any], results_dir: Path | None = None) -> Path:
    folder = results_dir or RESULTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (what docs/benchmarks.md pastes)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        lines.append("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def goal(name: str, value: float, limit: float, *, at_least: bool) -> dict[str, Any]:
    met = value >= limit if at_least else value <= limit
    return {"goal": name, "value": value, "limit": limit, "met": bool(met)}
