"""HistoryWorker.run: the actor's plain function, with real parts only.

A real Redis (claims, counters, retry states, the shared request budget), the
real ``HistoryStore`` (SQLite and Postgres), and ccxt's real client the worker
builds from the exchange row, against the simulator's history over real sockets.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.history.client import ExchangeConfig
from service.history.job import HistoryJob, HistoryWorker
from service.history.records import Range, Stream
from service.history.retry import read_retries
from service.simulator.history import trades_between
from service.simulator.testing import SimulatorThread
from tests.history_real import SYMBOL, at, fresh, migrated_store, running_simulator

JOB = HistoryJob("sim", SYMBOL, Stream.TRADES, at(0), at(1), f"sim|{SYMBOL}|trades|{at(0)}")


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorThread]:
    yield from running_simulator("binance")


@pytest.fixture
def worker(redis_client, keys, database_url, simulator) -> Iterator[HistoryWorker]:
    sim = fresh(simulator)
    config = ExchangeConfig("sim", "binance", sim.ccxt_params, requests_per_minute=60_000)
    for store in migrated_store(database_url):
        yield HistoryWorker(
            client=redis_client,
            keys=keys,
            store=store,
            load_config=lambda name: config,
            pages_per_task=100,
            marker_ttl_s=30,
        )


def test_a_task_fills_its_range_counts_rows_and_releases_its_claim(worker, redis_client, keys):
    redis_client.set(keys.history_pending(JOB.task_id), "1", px=30_000)
    outcome = worker.run(JOB)
    truth = trades_between(SYMBOL, JOB.start_ms, JOB.end_ms)
    assert outcome.complete and outcome.rows == len(truth) == 1800
    assert list(worker.store.iter_trades(JOB.key, Range(JOB.start_ms, JOB.end_ms))) == truth
    assert int(redis_client.hget(keys.history_written(), str(JOB.key))) == len(truth)
    assert not redis_client.exists(keys.history_pending(JOB.task_id))
    # Every request (markets included) took a token from the exchange's shared bucket.
    assert redis_client.exists(keys.request_budget("sim"))


def test_an_okx_task_pages_its_trades_backwards_to_the_truth(redis_client, keys, sqlite_url):
    with SimulatorThread("okx", symbols=3, rate=1) as sim:
        config = ExchangeConfig("sim", "okx", sim.ccxt_params, requests_per_minute=60_000)
        for store in migrated_store(sqlite_url):
            worker = HistoryWorker(client=redis_client, keys=keys, store=store,
                                   load_config=lambda name: config, pages_per_task=100,
                                   marker_ttl_s=30)  # fmt: skip
            outcome = worker.run(JOB)
            window = Range(JOB.start_ms, JOB.end_ms)
            # 1800 trades, 100 a page from the newest, and one more page reaching past the start.
            assert (outcome.complete, outcome.pages) == (True, 19)
            assert list(store.iter_trades(JOB.key, window)) == trades_between(
                SYMBOL, JOB.start_ms, JOB.end_ms
            )
            assert store.coverage(JOB.key, window).gaps == ()


def test_a_failed_page_holds_the_stream_off_and_a_success_clears_it(worker, simulator,
                                                                   redis_client, keys):  # fmt: skip
    simulator.client.set_faults(every=1)  # every history page answers 5xx
    outcome = worker.run(JOB)
    assert outcome.error and outcome.pages == 0
    [gap] = worker.store.coverage(JOB.key, Range(JOB.start_ms, JOB.end_ms)).gaps
    assert gap.error == outcome.error  # visible in coverage with its error
    [state] = read_retries(redis_client, keys)
    assert (state.stream, state.attempts) == (str(JOB.key), 1)
    assert worker.run(JOB).error  # fails again: the backoff doubles
    assert read_retries(redis_client, keys)[0].attempts == 2
    simulator.client.set_faults(None)
    assert worker.run(JOB).complete
    assert read_retries(redis_client, keys) == []
    assert worker.store.coverage(JOB.key, Range(JOB.start_ms, JOB.end_ms)).gaps == ()


def test_the_claim_is_renewed_to_the_full_ttl_after_every_page(worker, redis_client, keys):
    marker = keys.history_pending(JOB.task_id)
    seen: list[int] = []
    write_page = worker.store.write_page

    def write_then_look(*args, **kwargs):  # type: ignore[no-untyped-def]
        written = write_page(*args, **kwargs)
        seen.append(int(redis_client.pttl(marker)))  # the claim before this page's renewal
        return written

    redis_client.set(marker, "1", px=5_000)
    worker.store.write_page = write_then_look  # type: ignore[method-assign]
    assert worker.run(JOB).pages == 2  # 1800 trades: two pages of 1000
    assert seen[0] <= 5_000 < 25_000 < seen[1]  # renewed to 30 s after the first page
