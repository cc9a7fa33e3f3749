"""Run a simulator from a test or a benchmark: in a background thread or as a subprocess.

Both runners answer over the simulator's HTTP control API (``SimulatorClient``),
open ccxt clients pointed at it, and stop everything they started; use them as
context managers::

    with SimulatorThread("binance", symbols=20, rate=10) as sim:
        async with sim.exchange() as exchange:      # ccxt.pro.binance
            await exchange.watch_tickers(["BTC/USDT"])
        sim.client.pause()
        sim.client.last()["BTC/USDT"]["bid"]

    with SimulatorProcess("okx", symbols=5) as sim:   # python -m service.simulator
        ...

The tests and ``bench/`` share this module; it imports nothing from either.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import ccxt.async_support
import ccxt.pro

from service.simulator.params import ccxt_params
from service.simulator.server import Simulator

START_TIMEOUT_S = 15.0


async def count_ticker_updates(
    exchange: Any, symbols: list[str], seconds: float, params: dict[str, Any] | None = None
) -> dict[str, int]:
    """How many updates ``watch_tickers(symbols, params)`` returned per symbol in ``seconds``.

    Lets ccxt errors (e.g. ``NetworkError`` after a drop) through.
    """
    counts = dict.fromkeys(symbols, 0)
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            batch = await asyncio.wait_for(exchange.watch_tickers(symbols, params or {}), left)
        except TimeoutError:
            break
        for symbol in batch:
            counts[symbol] += 1
    return counts


class SimulatorClient:
    """Blocking client of a simulator's ``/_sim/`` control API."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, timeout: float = 5.0) -> Any:
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def set_budget(
        self,
        weight: int | None,
        *,
        window_s: float = 60.0,
        ban_after: int = 5,
        ban_s: float = 120.0,
    ) -> None:
        """REST weight allowed per window (None: unlimited), the ban rule; clears a ban."""
        query = {"weight": weight or 0, "window": window_s, "ban_after": ban_after, "ban": ban_s}
        self._call("POST", "/_sim/budget?" + urllib.parse.urlencode(query))

    def set_faults(
        self, every: int | None = None, *, next: int = 0, statuses: tuple[int, ...] = (500, 503)
    ) -> None:
        """Fail every N-th history page and the next K ones with 5xx (0/None: off)."""
        status = ",".join(map(str, statuses))
        query = {"every": every or 0, "next": next, "status": status}
        self._call("POST", "/_sim/faults?" + urllib.parse.urlencode(query))

    def budget(self) -> dict[str, Any]:
        """The budget's limits, bans and per-window counters (``state()["budget"]``)."""
        return dict(self.state()["budget"])

    def max_window_weight(self) -> int:
        """The most weight accepted in any one window kept (the budget must bound it)."""
        return int(self.budget()["max_window_weight"])

    def endpoint_counts(self, endpoint: str) -> dict[str, int]:
        """Totals over the windows kept for one endpoint (``klines``, ``market/history-trades``):
        requests, weight, limited, banned, failed."""
        totals = dict.fromkeys(("requests", "weight", "limited", "banned", "failed"), 0)
        for window in self.budget()["windows"]:
            for name, value in window["endpoints"].get(endpoint, {}).items():
                totals[name] += value
        return totals

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/state"))

    def last(self) -> dict[str, dict[str, Any]]:
        """Per unified symbol, the ticker fields last sent."""
        return dict(self._call("GET", "/_sim/last"))

    def symbols(self) -> list[str]:
        """The unified symbols served."""
        return list(self._call("GET", "/_sim/symbols"))

    def stall(self) -> None:
        self._call("POST", "/_sim/stall")

    def pause(self) -> None:
        self._call("POST", "/_sim/pause")

    def resume(self) -> None:
        self._call("POST", "/_sim/resume")

    def drop(self) -> int:
        """Close every websocket now; returns how many were open."""
        return int(self._call("POST", "/_sim/drop")["dropped"])

    def set_rate(self, rate: float) -> None:
        self._call("POST", f"/_sim/rate?value={rate}")

    def set_drop_every(self, seconds: float) -> None:
        self._call("POST", f"/_sim/drop-every?value={seconds}")

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Return once the control API answers; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.state()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"simulator at {self.url} did not answer") from None
                time.sleep(0.05)


class _Runner:
    protocol: str
    host = "127.0.0.1"
    port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def client(self) -> SimulatorClient:
        return SimulatorClient(self.url)

    @property
    def ccxt_params(self) -> dict[str, Any]:
        """The ccxt constructor config pointing at this simulator."""
        return ccxt_params(self.protocol, self.host, self.port)

    @asynccontextmanager
    async def exchange(self, *, rest: bool = False) -> AsyncIterator[Any]:
        """A ccxt.pro client of this simulator (``rest=True``: ccxt.async_support), closed after."""
        module = ccxt.async_support if rest else ccxt.pro
        exchange = getattr(module, self.protocol)(self.ccxt_params)
        try:
            yield exchange
        finally:
            await exchange.close()


class SimulatorThread(_Runner):
    """A ``Simulator`` on its own event loop in a daemon thread (same process)."""

    def __init__(self, protocol: str = "binance", **kwargs: Any) -> None:
        self.protocol = protocol
        self.sim = Simulator(protocol, **kwargs)
        self.host = self.sim.host
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def start(self) -> SimulatorThread:
        """Start and wait until it listens; raises what ``Simulator.start`` raises."""
        self._thread.start()
        try:
            self.call(self.sim.start)
        except BaseException:
            self.stop()
            raise
        self.port = self.sim.port
        return self

    def call(self, function: Any, *args: Any) -> Any:
        """Run ``function(*args)`` (a plain or async method of ``.sim``) on its loop."""

        async def invoke() -> Any:
            result = function(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(START_TIMEOUT_S)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.call(self.sim.stop)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SimulatorProcess(_Runner):
    """``python -m service.simulator`` as a child process, stopped with SIGTERM."""

    def __init__(self, protocol: str = "binance", *args: str, **options: Any) -> None:
        """Keyword ``options`` become flags: ``drop_every=2`` -> ``--drop-every=2``."""
        self.protocol = protocol
        flags = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
        self.argv = [sys.executable, "-m", "service.simulator", f"--protocol={protocol}"]
        self.argv += ["--port=0", *flags, *args]
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> SimulatorProcess:
        """Start and wait for its ready line; raises RuntimeError if it exits first."""
        env = {**os.environ, "LOG_LEVEL": os.environ.get("SIM_LOG_LEVEL", "WARNING")}
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # the JSON ready line (or "" if it died)
        if not line:
            code = self.process.wait(5)
            raise RuntimeError(f"simulator exited with {code} before listening: {self.argv}")
        ready = json.loads(line)
        self.port = int(ready["port"])
        self.client.wait_ready()
        return self

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 5 s; returns the exit code."""
        if self.process is None:
            return None
        code = stop_child(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_child(process: subprocess.Popen[Any], timeout_s: float = 5.0) -> int:
    """SIGTERM ``process`` if it runs, SIGKILL after ``timeout_s``; returns its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
    return int(process.returncode)
