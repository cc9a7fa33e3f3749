"""The simulator's history as pure functions: deterministic trades, klines built from them,
pages cut at now, and the budget and fault rules (no server here; test_simulator_history_ccxt.py
drives them through ccxt)."""

from __future__ import annotations

from itertools import pairwise

import pytest

from service.history.records import MINUTE_MS, Candle, Trade
from service.simulator import history
from service.simulator.faults import FaultPlan, FaultSwitch
from service.simulator.history import (
    EPOCH_MS,
    HOUR_MS,
    first_id_at,
    klines_between,
    trades_between,
    trades_from_id,
)
from service.simulator.limits import Admission, BudgetLimits, RequestBudget
from service.simulator.pages import kline_page, trades_by_id, trades_in

SYMBOL = "BTC/USDT"
START = EPOCH_MS + 7000 * HOUR_MS + 17 * MINUTE_MS  # 2026-10-19T16:17Z, mid-hour
END = START + 3 * HOUR_MS


def aggregate(trades: list[Trade]) -> list[Candle]:
    """The 1m candles of ``trades`` computed here, the slow obvious way."""
    minutes: dict[int, list[Trade]] = {}
    for t in trades:
        minutes.setdefault(t.timestamp - t.timestamp % MINUTE_MS, []).append(t)
    return [
        Candle(
            minute, ts[0].price, max(t.price for t in ts), min(t.price for t in ts), ts[-1].price,
            round(sum(t.amount for t in ts), history.AMOUNT_DECIMALS),
        )
        for minute, ts in sorted(minutes.items())
    ]  # fmt: skip


def test_the_same_range_gives_the_same_trades_and_a_pinned_first_trade() -> None:
    history._hour.cache_clear()  # regenerate: the answer must not come from the cache
    first = trades_between(SYMBOL, START, END)
    history._hour.cache_clear()
    assert trades_between(SYMBOL, START, END) == first
    assert trades_from_id(SYMBOL, 0, 2) == [
        Trade("0", 1767225600090, 62423.69, 0.00472, "sell"),
        Trade("1", 1767225600822, 62425.26, 0.05696, "sell"),
    ]


def test_trade_ids_are_sequential_without_holes_across_hours_and_inside_the_range() -> None:
    trades = trades_between(SYMBOL, START, END)
    ids = [int(t.id) for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    assert all(START <= t.timestamp < END for t in trades)
    assert all(a.timestamp <= b.timestamp for a, b in pairwise(trades))
    assert len(trades) == pytest.approx(3 * history.trades_per_hour(SYMBOL), rel=0.05)
    assert ids[0] == first_id_at(SYMBOL, START) and ids[-1] + 1 == first_id_at(SYMBOL, END)


def test_trades_from_id_continues_trades_between_exactly() -> None:
    trades = trades_between(SYMBOL, START, END)
    assert trades_from_id(SYMBOL, int(trades[0].id), len(trades)) == trades
    middle = trades[len(trades) // 2 :]
    assert trades_from_id(SYMBOL, int(middle[0].id), 1000) == middle[:1000]


def test_klines_are_the_aggregation_of_the_trades_and_empty_minutes_have_none() -> None:
    candles = klines_between(SYMBOL, START, END)
    assert candles == aggregate(trades_between(SYMBOL, START, END))
    minutes = {c.open_time for c in candles}
    empty = [m for m in range(START, END, MINUTE_MS) if m not in minutes]
    assert empty, "some minutes must have no trade at all"
    assert trades_between(SYMBOL, empty[0], empty[0] + MINUTE_MS) == []
    assert all(c.closed for c in candles)


def test_prices_and_amounts_are_whole_ticks_and_lots_so_their_text_parses_back() -> None:
    for t in trades_between("DOGE/USDT", START, START + 10 * MINUTE_MS):
        assert float(history.price_text("DOGE/USDT", t.price)) == t.price
        assert float(history.amount_text(t.amount)) == t.amount
        assert t.side in ("buy", "sell")


def test_there_is_no_trade_before_the_epoch() -> None:
    assert trades_between(SYMBOL, EPOCH_MS - HOUR_MS, EPOCH_MS) == []
    assert trades_between(SYMBOL, 0, EPOCH_MS + HOUR_MS)[0].id == "0"
    assert first_id_at(SYMBOL, 0) == 0


def test_a_page_at_now_serves_nothing_after_now_and_the_current_minute_open() -> None:
    minute = klines_between(SYMBOL, START + HOUR_MS, END)[0].open_time
    now = trades_between(SYMBOL, minute, minute + MINUTE_MS)[3].timestamp  # its 4th trade
    trades = trades_by_id(SYMBOL, first_id_at(SYMBOL, now - MINUTE_MS), None, 10_000, now)
    assert trades and trades[-1].timestamp <= now
    assert trades[-1].id == str(first_id_at(SYMBOL, now + 1) - 1)
    page = kline_page(SYMBOL, now - 10 * MINUTE_MS, now + HOUR_MS, 1000, now)
    *closed, (last, is_closed) = page
    assert not is_closed and last.open_time == minute
    assert last.count == len(trades_between(SYMBOL, minute, now + 1)) >= 4
    assert all(c for _, c in closed)


def test_newest_pages_take_the_end_of_the_range_in_ascending_order() -> None:
    now = END + HOUR_MS
    newest = trades_in(SYMBOL, START, END, 100, now, newest=True)
    assert newest == trades_between(SYMBOL, START, END)[-100:]
    candles = kline_page(SYMBOL, START, END, 50, now, newest=True)
    truth = klines_between(SYMBOL, START, END)[-50:]
    assert [history.as_candle(SYMBOL, k) for k, _ in candles] == truth


def test_the_budget_refuses_over_the_window_then_bans_a_client_that_ignores_it() -> None:
    budget = RequestBudget(BudgetLimits(weight=10, window_s=60, ban_after=2, ban_s=120))
    t = 1_800_000_000_000 - 1_800_000_000_000 % 60_000 + 1000  # 1 s into a window
    verdicts = [budget.admit("klines", 2, t + i) for i in range(5)]
    assert [v.used for v in verdicts] == [2, 4, 6, 8, 10]
    limited = budget.admit("klines", 2, t + 10)
    assert limited.admission == Admission.LIMITED and limited.retry_after_s == 59
    ignored = [budget.admit("klines", 2, t + 20 + i).admission for i in range(3)]
    assert ignored == [Admission.LIMITED, Admission.LIMITED, Admission.BANNED]
    banned = budget.admit("aggTrades", 2, t + 60_000)  # a new window does not lift a ban
    assert banned.admission == Admission.BANNED and banned.retry_after_s == 61
    assert budget.admit("klines", 2, t + 22 + 120_000).admission == Admission.ALLOWED
    state = budget.state()
    assert state["bans"] == 1 and state["max_window_weight"] == 10
    assert state["windows"][0]["endpoints"]["klines"] == {
        "requests": 9, "weight": 10, "limited": 3, "banned": 1, "failed": 0,
    }  # fmt: skip


def test_an_unlimited_budget_still_counts_the_weight() -> None:
    budget = RequestBudget()
    for i in range(100):
        assert budget.admit("klines", 2, 1_000 + i).admission == Admission.ALLOWED
    assert budget.state()["max_window_weight"] == 200


def test_faults_fail_every_nth_request_and_the_next_ones_alternating_5xx() -> None:
    switch = FaultSwitch(FaultPlan(every=3))
    assert [switch.failure() for _ in range(7)] == [None, None, 500, None, None, 503, None]
    switch.set(FaultPlan(next=2, statuses=(502,)))
    assert [switch.failure() for _ in range(3)] == [502, 502, None]
    with pytest.raises(ValueError, match="statuses"):
        FaultPlan(every=2, statuses=(404,))
    with pytest.raises(ValueError, match="weight=0"):
        BudgetLimits(weight=0)
