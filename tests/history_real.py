"""The real parts the history tests share: a migrated ``HistoryStore`` and the simulator's history.

Module-scoped simulators (one per protocol, a few symbols, slow tickers) serve
the history of ``service.simulator.history`` over real sockets to ccxt's real
sync clients; ``fresh`` turns their fault switch and budget off again so one
test's settings never leak into the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from service.db import migrate
from service.history.client import ExchangeConfig, rest_client
from service.history.records import MINUTE_MS, Range
from service.history.store import HistoryStore
from service.simulator.history import EPOCH_MS
from service.simulator.testing import SimulatorThread

SYMBOL = "BTC/USDT"  # 1800 trades an hour in the simulator
HOUR_MS = 60 * MINUTE_MS
# A past day of the simulator's history (its trades are a pure function of time).
DAY_START_MS = EPOCH_MS + 40 * 24 * HOUR_MS


def at(hour: int, minute: int = 0) -> int:
    """A time on the test day, in UTC epoch ms."""
    return DAY_START_MS + hour * HOUR_MS + minute * MINUTE_MS


def minutes(start: int, end: int, hour: int = 0) -> Range:
    """``[start, end)`` in minutes after ``hour`` of the test day."""
    return Range(at(hour, start), at(hour, end))


def migrated_store(url: str) -> Iterator[HistoryStore]:
    """A store over ``url`` migrated to head, closed afterwards."""
    migrate.upgrade(url)
    store = HistoryStore(url)
    yield store
    store.close()


def running_simulator(protocol: str) -> Iterator[SimulatorThread]:
    """A simulator of ``protocol`` serving history (three symbols, one ticker a second)."""
    with SimulatorThread(protocol, symbols=3, rate=1) as sim:
        yield sim


def fresh(sim: SimulatorThread) -> SimulatorThread:
    """``sim`` with its fault switch and request budget off (and its counters reset)."""
    sim.client.set_faults(None)
    sim.client.set_budget(None)
    return sim


def ccxt_client(sim: SimulatorThread) -> Any:
    """ccxt's real sync client of ``sim`` (ccxt's own rate limiter off, as the workers')."""
    return rest_client(ExchangeConfig("sim", sim.protocol, sim.ccxt_params))


def history_requests(sim: SimulatorThread) -> int:
    """History pages ``sim`` was asked for since its fault switch was last set."""
    return int(sim.client.state()["faults"]["history_requests"])
