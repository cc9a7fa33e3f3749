"""The backfill task: pages in, rows and ledger out, failures visible, nothing skipped.

Runs against the STAND-INS of tests/history_standins.py (the store and the
simulator's history land from other branches); the end-to-end tests in
tests/test_history_backfill_e2e.py run the same against the real ones.
"""

from __future__ import annotations

import pytest

from service.history.backfill import Fetcher, run_task
from service.history.fetch import ChainBroken, Cursor, trades_page
from service.history.records import (
    MINUTE_MS,
    GapReason,
    Range,
    Stream,
    StreamKey,
    Timeframe,
)
from tests.history_standins import (
    EPOCH_MS,
    StandInExchange,
    StandInStore,
    candles_truth,
    trades_truth,
)

HOUR = 60 * MINUTE_MS
NOW = EPOCH_MS + 4 * HOUR + 30_000
WINDOW = Range(EPOCH_MS + 5 * MINUTE_MS, EPOCH_MS + 4 * HOUR)
CANDLES = StreamKey("sim", "BTC/USDT", Stream.CANDLES, Timeframe.M1)
TRADES = StreamKey("sim", "BTC/USDT", Stream.TRADES)


def backfill_until_complete(fetcher: Fetcher, store: StandInStore, *, max_pages: int) -> int:
    """Run tasks over WINDOW (as the beat would, pass after pass) until no gap is left."""
    for tasks in range(1, 200):
        if run_task(fetcher, store, WINDOW, max_pages=max_pages).complete:
            return tasks
    raise AssertionError("the backfill never completed")


@pytest.mark.parametrize("ccxt_id", ["binance", "okx"])
def test_candles_backfill_equals_the_truth_and_leaves_no_gap(ccxt_id):
    store = StandInStore()
    fetcher = Fetcher(StandInExchange(NOW), ccxt_id, CANDLES)
    backfill_until_complete(fetcher, store, max_pages=2)
    assert store.stored(CANDLES) == candles_truth(WINDOW.start_ms, WINDOW.end_ms)
    assert store.coverage(CANDLES, WINDOW).gaps == ()


@pytest.mark.parametrize("limit", [1000, 50, 7])
def test_trades_backfill_equals_the_truth_without_duplicates(limit):
    store = StandInStore()
    fetcher = Fetcher(StandInExchange(NOW), "binance", TRADES, limit=limit)
    backfill_until_complete(fetcher, store, max_pages=5)
    truth = trades_truth(WINDOW.start_ms, WINDOW.end_ms)
    assert store.stored(TRADES) == truth
    assert len({t.id for t in store.stored(TRADES)}) == len(truth)
    assert store.coverage(TRADES, WINDOW).gaps == ()


def test_a_failed_page_is_a_visible_gap_with_its_error_until_a_retry_fills_it():
    store = StandInStore()
    exchange = StandInExchange(NOW, fail_every=3)
    fetcher = Fetcher(exchange, "binance", TRADES, limit=50)
    first = run_task(fetcher, store, WINDOW, max_pages=100)
    assert not first.complete and "503" in (first.error or "")
    gaps = store.coverage(TRADES, WINDOW).gaps
    assert gaps[0].reason == GapReason.FETCH_FAILED
    assert "503 Service Unavailable" in store.failed[TRADES][0].error
    backfill_until_complete(fetcher, store, max_pages=100)
    assert store.stored(TRADES) == trades_truth(WINDOW.start_ms, WINDOW.end_ms)


def test_a_task_fetches_at_most_its_pages_and_a_rerun_refetches_nothing():
    store = StandInStore()
    exchange = StandInExchange(NOW)
    fetcher = Fetcher(exchange, "binance", TRADES, limit=50)
    outcome = run_task(fetcher, store, WINDOW, max_pages=3)
    assert (outcome.pages, outcome.complete, exchange.calls) == (3, False, 3)
    backfill_until_complete(fetcher, store, max_pages=1000)
    calls = exchange.calls
    again = run_task(fetcher, store, WINDOW, max_pages=1000)  # a duplicate delivery
    assert (again.pages, again.complete, exchange.calls) == (0, True, calls)


def test_a_hole_in_the_trade_id_chain_fails_the_page():
    class Holey(StandInExchange):
        def fetch_trades(self, symbol, since, limit, params):  # type: ignore[no-untyped-def]
            raw = super().fetch_trades(symbol, since, limit, params)
            return raw[:3] + raw[4:]

    with pytest.raises(ChainBroken, match="jump from 12 to 14"):
        trades_page(Holey(NOW), "BTC/USDT", Cursor(EPOCH_MS, 10), EPOCH_MS + HOUR, 10)


def test_an_empty_range_is_complete_and_empty():
    store = StandInStore()
    quiet = Range(EPOCH_MS + 3 * MINUTE_MS, EPOCH_MS + 4 * MINUTE_MS)  # a minute without trades
    for stream_key in (TRADES, CANDLES):
        fetcher = Fetcher(StandInExchange(NOW), "binance", stream_key)
        assert run_task(fetcher, store, quiet, max_pages=5).complete
        assert store.coverage(stream_key, quiet).gaps == ()
        assert store.stored(stream_key) == []


def test_trades_of_an_exchange_without_known_paging_stay_a_visible_gap_never_complete():
    store = StandInStore()
    exchange = StandInExchange(NOW)
    outcome = run_task(Fetcher(exchange, "okx", TRADES), store, WINDOW, max_pages=5)
    assert not outcome.complete and "PagingNotSupported" in (outcome.error or "")
    assert exchange.calls == 0 and store.stored(TRADES) == []
    [gap] = store.coverage(TRADES, WINDOW).gaps
    assert (gap.range, gap.reason) == (WINDOW, GapReason.FETCH_FAILED)
