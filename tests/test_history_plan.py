"""The backfill plan: gaps -> bounded, non-repeating tasks (pure, table tests)."""

from __future__ import annotations

import pytest

from service.history.plan import PlanLimits, chunks, horizon_ms, plan_tasks
from service.history.records import MINUTE_MS, Coverage, Gap, GapReason, Range, Stream, StreamKey
from tests.history_keys import CANDLES, TRADES

HOUR = 60 * MINUTE_MS
OTHER = StreamKey("binance", "ETH/USDT", Stream.TRADES)
OKX = StreamKey("okx", "BTC/USDT", Stream.TRADES)


def coverage(key: StreamKey, *gaps: tuple[int, int]) -> Coverage:
    wanted = Range(0, 100 * HOUR)
    return Coverage(
        key, wanted, (), tuple(Gap(Range(a, b), GapReason.NOT_FETCHED) for a, b in gaps), None
    )


@pytest.mark.parametrize(
    ("gap", "chunk", "expected"),
    [
        ((0, 0), 10, []),
        ((0, 10), 10, [(0, (0, 10))]),
        ((3, 25), 10, [(0, (3, 10)), (10, (10, 20)), (20, (20, 25))]),
        ((12, 18), 10, [(10, (12, 18))]),
    ],
)
def test_a_gap_is_cut_on_the_epoch_grid(gap, chunk, expected):
    got = [(c, (r.start_ms, r.end_ms)) for c, r in chunks(Range(*gap), chunk)]
    assert got == expected


def test_the_horizon_is_the_start_of_the_current_minute():
    assert horizon_ms(5 * MINUTE_MS + 59_999) == 5 * MINUTE_MS
    assert horizon_ms(5 * MINUTE_MS) == 5 * MINUTE_MS


def test_a_stream_without_gaps_plans_nothing():
    assert plan_tasks([coverage(TRADES)], PlanLimits(max_in_flight=4)) == []


def test_tasks_are_bounded_per_exchange_and_take_turns_across_streams():
    cov = [coverage(TRADES, (0, 3 * HOUR)), coverage(OTHER, (0, 3 * HOUR))]
    planned = plan_tasks(cov, PlanLimits(max_in_flight=3))
    assert [(t.key.symbol, t.range.start_ms) for t in planned] == [
        ("BTC/USDT", 0),
        ("ETH/USDT", 0),
        ("BTC/USDT", HOUR),
    ]


def test_each_exchange_has_its_own_bound_minus_what_is_in_flight():
    cov = [coverage(TRADES, (0, 5 * HOUR)), coverage(OKX, (0, 5 * HOUR))]
    planned = plan_tasks(cov, PlanLimits(max_in_flight=2), in_flight={"binance": 1})
    assert sorted((t.key.exchange, t.range.start_ms) for t in planned) == [
        ("binance", 0),
        ("okx", 0),
        ("okx", HOUR),
    ]


def test_a_busy_task_is_never_planned_again_even_when_its_gap_shrank():
    first = plan_tasks([coverage(TRADES, (0, HOUR))], PlanLimits(max_in_flight=4))
    # Half the chunk was written: the rest is the same task (same marker), so it is skipped.
    again = plan_tasks(
        [coverage(TRADES, (HOUR // 2, HOUR))],
        PlanLimits(max_in_flight=4),
        busy=frozenset({first[0].task_id}),
    )
    assert again == []


def test_candles_use_larger_chunks_than_trades():
    limits = PlanLimits(max_in_flight=10)
    planned = plan_tasks([coverage(CANDLES, (0, 5 * HOUR))], limits)
    assert [(t.range.start_ms, t.range.end_ms) for t in planned] == [(0, 5 * HOUR)]


@pytest.mark.parametrize("held", ["binance", str(TRADES)])
def test_an_exchange_or_stream_in_backoff_is_planned_nothing(held):
    cov = [coverage(TRADES, (0, HOUR)), coverage(OKX, (0, HOUR))]
    planned = plan_tasks(cov, PlanLimits(max_in_flight=4), held=frozenset({held}))
    assert [t.key for t in planned] == [OKX]
