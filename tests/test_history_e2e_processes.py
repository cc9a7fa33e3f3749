"""End to end with real processes: ``ticker-scheduler`` plans, two ``dramatiq service.workers``
processes on the ``history`` queue backfill from a simulator process, one is SIGKILLed
mid-backfill, and the store still ends equal to the simulator's truth with no gap.

Needs the STORE and SIMULATOR branches of issue 13: skipped until they are merged.
"""

from __future__ import annotations

import time

import pytest

pytest.importorskip("service.history.store")
sim_history = pytest.importorskip("service.simulator.history")

from bench.procs import BIN, service_env, started  # noqa: E402
from service.history.plan import horizon_ms  # noqa: E402
from service.history.records import Range  # noqa: E402
from service.history.store_access import history_store  # noqa: E402
from service.queues import HISTORY_QUEUE  # noqa: E402
from service.simulator.testing import SimulatorProcess  # noqa: E402
from tests.history_e2e import CANDLES, HOUR_MS, SYMBOL, TRADES, add_rows  # noqa: E402
from workers.clock import now_ms  # noqa: E402

REQUESTS_PER_MINUTE = 240
DEADLINE_S = 60


def history_worker_args() -> list[str]:
    return [str(BIN / "dramatiq"), "service.workers", "--processes", "1", "--threads", "2",
            "--queues", HISTORY_QUEUE]  # fmt: skip


def wait_for(check, what: str, deadline_s: float = DEADLINE_S) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.e2e
def test_a_worker_killed_mid_backfill_costs_nothing_but_time(monkeypatch, tmp_path, redis_url,
                                                             redis_client, keys, key_prefix,
                                                             database_url):  # fmt: skip
    now = now_ms()
    since = now - now % HOUR_MS - 2 * HOUR_MS
    env = service_env(redis_url, key_prefix, DATABASE_URL=database_url, HISTORY_INTERVAL_S="0.5",
                      HISTORY_PAGES_PER_TASK="2", HISTORY_TASK_TTL_S="4",
                      dramatiq_queue_prefetch="1")  # fmt: skip
    with SimulatorProcess("binance", symbols=3, fail_every=6) as sim:
        for name in ("REDIS_URL", "TICKER_KEY_PREFIX", "DATABASE_URL"):
            monkeypatch.setenv(name, env[name])
        add_rows("127.0.0.1", sim.port, since, REQUESTS_PER_MINUTE)
        store = history_store(database_url)
        window = Range(since, horizon_ms(now_ms()))
        with (
            started(history_worker_args(), env, tmp_path / "worker-a.log") as doomed,
            started(history_worker_args(), env, tmp_path / "worker-b.log"),
            started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"),
        ):
            wait_for(lambda: redis_client.hlen(keys.history_written()) > 0, "the first rows")
            doomed.kill()  # SIGKILL to its process group, mid-backfill
            assert any(store.coverage(k, window).gaps for k in (TRADES, CANDLES))
            wait_for(
                lambda: all(not store.coverage(k, window).gaps for k in (TRADES, CANDLES)),
                "no gap left",
            )
        windows = sim.client.budget()["windows"]
    trades = list(store.iter_trades(TRADES, window))
    assert trades == sim_history.trades_between(SYMBOL, window.start_ms, window.end_ms)
    candles = list(store.iter_candles(CANDLES, window))
    assert candles == sim_history.klines_between(SYMBOL, window.start_ms, window.end_ms)
    # The simulator never saw more requests in one of its minutes than the budget.
    per_window = [sum(c["requests"] for c in w["endpoints"].values()) for w in windows]
    assert max(per_window) <= REQUESTS_PER_MINUTE
    store.close()
