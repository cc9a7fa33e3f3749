"""End to end: a symbol removed with the CLI stops arriving (issue 12, point 4).

Real processes (beat, worker, simulator), SQLite, Redis and default lease timings
(LEASE_TTL_S 15: a renewal every 5 s). Frames are counted per symbol where the
simulator sends them (``/_sim/state``), so what is measured is what reaches the worker.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, service_env, started, worker_args
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.test_e2e_workers import board, wait_until
from tests.test_edits_apply import cli, desired_symbols

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("protocol", ["binance", "okx"])]

RENEWAL_S = 15 / 3
SIX = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT", "XRP/USDT", "ADA/USDT"]
GONE = ["ETH/USDT", "XRP/USDT"]
KEPT = [s for s in SIX if s not in GONE]
QUIET_S = 1.5  # at 10 frames/s, this long without one means the stream stopped
LONGEST_GAP_S = 0.6


def sent(sim: SimulatorProcess) -> dict[str, int]:
    return dict(sim.client.state()["events_sent_by_symbol"])


def watch_counts(sim: SimulatorProcess, until: float) -> dict[str, list[float]]:
    """Per symbol, when its sent count was seen to grow, polled every 50 ms until
    ``GONE`` have been quiet for ``QUIET_S`` (or ``until``)."""
    grew: dict[str, list[float]] = {s: [] for s in SIX}
    last, started_at = sent(sim), time.monotonic()
    while (now := time.monotonic()) < until:
        counts = sent(sim)
        for symbol in SIX:
            if counts.get(symbol) != last.get(symbol):
                grew[symbol].append(now)
        last = counts
        if now - max([started_at, *grew[GONE[0]], *grew[GONE[1]]]) >= QUIET_S:
            break
        time.sleep(0.05)
    return grew


@pytest.fixture
def env(redis_url: str, key_prefix: str, sqlite_url: str) -> dict[str, str]:
    """Service processes' environment: SQLite, default lease and staleness timings."""
    return service_env(
        redis_url, key_prefix, DATABASE_URL=sqlite_url, LEASE_TTL_S="15", STALE_AFTER_S="30"
    )


def test_symbols_removed_with_the_cli_stop_arriving_and_come_back_when_added_again(
    env: dict[str, str], keys: Keys, redis_client: redis.Redis, tmp_path: Path, protocol: str
) -> None:
    with SimulatorProcess(protocol, symbols=",".join(SIX), rate=10, seed=9) as sim:
        cli(env, "db", "upgrade")
        params = json.dumps(sim.ccxt_params)
        cli(env, "exchanges", "add", "alpha", "--ccxt-id", protocol, "--params", params)
        cli(env, "symbols", "add", "alpha", *SIX)
        with (
            started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"),
            started(worker_args(), env, tmp_path / "worker.log") as worker,
        ):
            wait_until(lambda: set(board(redis_client, keys, "alpha")) == set(SIX), 30, "six")
            connections = sim.client.state()["connections_total"]

            cli(env, "symbols", "remove", "alpha", *GONE)
            wait_until(
                lambda: set(desired_symbols(redis_client, keys, "alpha")) == set(KEPT), 5, "edit"
            )
            desired = time.monotonic()
            grew = watch_counts(sim, desired + RENEWAL_S + QUIET_S)
            ended = time.monotonic()

            last = max(t for s in GONE for t in [desired, *grew[s]])
            print(f"{protocol}: removed symbols' last frame {last - desired:.2f} s after the edit")
            assert last - desired < RENEWAL_S, worker.output()[-3000:]
            for symbol in KEPT:
                times = [desired, *grew[symbol], ended]
                assert max(b - a for a, b in itertools.pairwise(times)) < LONGEST_GAP_S, symbol
            assert sim.client.state()["connections_total"] == connections
            assert set(board(redis_client, keys, "alpha")) == set(KEPT)

            before = sent(sim)["ETH/USDT"]
            cli(env, "symbols", "add", "alpha", "ETH/USDT")
            wait_until(lambda: sent(sim)["ETH/USDT"] >= before + 10, 10, "ETH/USDT frames")
            wait_until(lambda: "ETH/USDT" in board(redis_client, keys, "alpha"), 5, "stored")
