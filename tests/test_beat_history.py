"""The beat's history pass against a real Redis: gaps -> claimed, bounded, non-repeating tasks.

The ledger is the real ``HistoryStore``'s, on SQLite and Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.beat.history import HistoryPlanner, task_args
from service.beat.runner import Beat
from service.beat.status import PassKind, PassOutcome, read_status
from service.history.budget import RequestBudget, budget_spec
from service.history.plan import HistoryTask, PlanLimits
from service.history.records import MINUTE_MS, Range, Stream, StreamKey, Wanted
from service.history.retry import note_failure
from service.history.store import HistoryStore
from tests.history_real import migrated_store

HOUR = 60 * MINUTE_MS
NOW = 1_764_547_200_000 + 10 * HOUR + 5_000
BTC = StreamKey("binance", "BTC/USDT", Stream.TRADES)
ETH = StreamKey("binance", "ETH/USDT", Stream.TRADES)
OKX = StreamKey("okx", "BTC/USDT", Stream.TRADES)
WANTED = [Wanted(BTC, NOW - 6 * HOUR), Wanted(ETH, NOW - 6 * HOUR), Wanted(OKX, NOW - 2 * HOUR)]


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    yield from migrated_store(database_url)


@pytest.fixture
def sent() -> list[HistoryTask]:
    return []


@pytest.fixture
def planner(redis_client, keys, store, sent) -> HistoryPlanner:
    return HistoryPlanner(
        client=redis_client,
        keys=keys,
        load_wanted=lambda now_ms: WANTED,
        coverage=lambda wanted, window: store.coverage(wanted.key, window),
        enqueue=sent.append,
        limits=PlanLimits(max_in_flight=3),
        marker_ttl_s=30,
    )


def test_a_pass_enqueues_a_bounded_number_per_exchange_and_claims_each(planner, sent, keys,
                                                                        redis_client):  # fmt: skip
    done = planner.run(NOW)
    assert done.streams == 3
    by_exchange = [t.key.exchange for t in sent]
    assert (by_exchange.count("binance"), by_exchange.count("okx")) == (3, 2)
    for task in sent:
        assert redis_client.pttl(keys.history_pending(task.task_id)) > 25_000
    assert task_args(sent[0])[2:] == ("trades", sent[0].range.start_ms, sent[0].range.end_ms,
                                      sent[0].task_id)  # fmt: skip


def test_passes_never_queue_a_task_twice_and_plan_the_rest_as_tasks_finish(
    planner, sent, keys, redis_client, store
):
    planner.run(NOW)
    first = list(sent)
    assert planner.run(NOW).enqueued == ()  # everything planned is still claimed
    # One task finishes: its range is written and its claim released.
    task = first[0]
    store.write_page(task.key, [], task.range)
    redis_client.delete(keys.history_pending(task.task_id))
    again = planner.run(NOW)
    assert len(again.enqueued) == 1
    # Streams take turns: BTC's next chunk not yet claimed (its second one still is).
    btc_claimed = [t for t in first if t.key == BTC]
    assert len(btc_claimed) == 2
    assert sent[-1].key == BTC and sent[-1].range.start_ms == btc_claimed[-1].range.end_ms


def test_a_backed_off_exchange_and_a_stream_in_retry_backoff_get_nothing(planner, sent, keys,
                                                                        redis_client):  # fmt: skip
    RequestBudget(redis_client, keys, "okx", budget_spec(60)).back_off(429, 30, "429")
    note_failure(redis_client, keys, str(BTC), "ExchangeNotAvailable: 503")
    planner.run(NOW)
    assert {t.key for t in sent} == {ETH}


def test_a_failed_enqueue_is_unclaimed_and_reported(planner, keys, redis_client):
    def broken(task: HistoryTask) -> None:
        raise ConnectionError("broker away")

    planner.enqueue = broken
    done = planner.run(NOW)
    assert done.enqueued == () and len(done.failed) == 5
    assert "broker away" in done.failed[0][1]
    assert not list(redis_client.scan_iter(keys.history_pending_pattern()))


def test_a_complete_ledger_plans_nothing(planner, sent, store):
    end = NOW - NOW % MINUTE_MS
    for wanted in WANTED:
        store.write_page(wanted.key, [], Range(wanted.since_ms, end))
    assert planner.run(NOW).enqueued == ()


def test_the_beat_records_its_history_pass_in_beat_status(planner, redis_client, keys):
    beat = Beat(client=redis_client, keys=keys, load=None, enqueue=print, options=None,  # type: ignore[arg-type]
                beat_id="test-beat", history=planner)  # fmt: skip
    status = beat.history_pass()
    assert status is not None and status.outcome == PassOutcome.OK
    # The pass runs at the real now: okx's range is many chunks, bounded to 3 as binance's.
    assert (status.jobs, status.enqueued) == (3, 6)
    assert read_status(redis_client, keys)[PassKind.HISTORY].enqueued == 6
