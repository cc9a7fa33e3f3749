"""HistoryWorker.run: the actor's plain function, with a real Redis (claims, counters, retries).

The store and exchange are the STAND-INS of tests/history_standins.py until the
STORE and SIMULATOR branches land.
"""

from __future__ import annotations

from typing import Any

import pytest

from service.history.client import ExchangeConfig
from service.history.job import HistoryJob, HistoryWorker
from service.history.records import MINUTE_MS, Range, Stream
from service.history.retry import read_retries
from tests.history_standins import EPOCH_MS, StandInExchange, StandInStore, trades_truth

HOUR = 60 * MINUTE_MS
NOW = EPOCH_MS + 2 * HOUR + 1_000
JOB = HistoryJob("sim", "BTC/USDT", Stream.TRADES, EPOCH_MS, EPOCH_MS + HOUR, "sim|BTC/USDT|t|0")


class StandInClientWorker(HistoryWorker):
    """HistoryWorker whose exchange client is the stand-in exchange (tests only)."""

    exchange: Any = None

    def _client(self, config: ExchangeConfig) -> Any:
        return self.exchange


@pytest.fixture
def worker(redis_client, keys) -> StandInClientWorker:
    made = StandInClientWorker(
        client=redis_client,
        keys=keys,
        store=StandInStore(),
        load_config=lambda name: ExchangeConfig(name, "binance"),
        pages_per_task=100,
        marker_ttl_s=30,
    )
    made.exchange = StandInExchange(NOW)
    return made


def test_a_task_fills_its_range_counts_rows_and_releases_its_claim(worker, redis_client, keys):
    redis_client.set(keys.history_pending(JOB.task_id), "1", px=30_000)
    outcome = worker.run(JOB)
    truth = trades_truth(EPOCH_MS, EPOCH_MS + HOUR)
    assert outcome.complete and outcome.rows == len(truth)
    assert worker.store.stored(JOB.key) == truth
    assert int(redis_client.hget(keys.history_written(), str(JOB.key))) == len(truth)
    assert not redis_client.exists(keys.history_pending(JOB.task_id))


def test_a_failed_page_holds_the_stream_off_and_a_success_clears_it(worker, redis_client, keys):
    worker.exchange = StandInExchange(NOW, fail_every=1)
    outcome = worker.run(JOB)
    assert outcome.error and "503" in outcome.error
    [state] = read_retries(redis_client, keys)
    assert (state.stream, state.attempts) == (str(JOB.key), 1)
    assert worker.run(JOB).error  # fails again: the backoff doubles
    assert read_retries(redis_client, keys)[0].attempts == 2
    worker.exchange = StandInExchange(NOW)
    assert worker.run(JOB).complete
    assert read_retries(redis_client, keys) == []
    assert worker.store.coverage(JOB.key, Range(JOB.start_ms, JOB.end_ms)).gaps == ()


def test_renewing_the_claim_pushes_its_expiry_to_the_full_ttl(worker, redis_client, keys):
    redis_client.set(keys.history_pending(JOB.task_id), "1", px=1_000)
    worker._renew(JOB.task_id)  # what run_task calls after every written page
    assert redis_client.pttl(keys.history_pending(JOB.task_id)) > 25_000
