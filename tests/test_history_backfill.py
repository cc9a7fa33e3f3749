"""The backfill task: pages in, rows and ledger out, failures visible, nothing skipped.

Real parts only: ccxt's real sync client against the simulator's history over
real sockets (Binance pages forwards with the fromId chain, OKX backwards by
``after``), the real ``HistoryStore`` on SQLite and Postgres; the truth is the
simulator's own ``trades_between``/``klines_between``.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.request
from collections.abc import Iterator

import ccxt
import pytest

from service.history.backfill import Fetcher, run_task
from service.history.client import ExchangeConfig, rest_client
from service.history.fetch import ChainBroken, Cursor, trades_page
from service.history.records import Gap, GapReason, Range, Stream, StreamKey, Timeframe
from service.history.store import HistoryStore
from service.simulator.history import klines_between, trades_between
from service.simulator.params import ccxt_params
from service.simulator.testing import SimulatorThread
from tests.history_real import (
    SYMBOL,
    at,
    ccxt_client,
    fresh,
    history_requests,
    migrated_store,
    minutes,
    running_simulator,
)

CANDLES_WINDOW = minutes(5, 240)  # almost four hours, not on an hour
TRADES_WINDOW = minutes(50, 70)  # twenty minutes across an hour (about 600 trades)
CANDLES = StreamKey("sim", SYMBOL, Stream.CANDLES, Timeframe.M1)
TRADES = StreamKey("sim", SYMBOL, Stream.TRADES)


@pytest.fixture(scope="module")
def simulators() -> Iterator[dict[str, SimulatorThread]]:
    binance, okx = running_simulator("binance"), running_simulator("okx")
    yield {"binance": next(binance), "okx": next(okx)}
    for runner in (binance, okx):
        next(runner, None)


@pytest.fixture(params=["binance", "okx"])
def sim(request, simulators) -> SimulatorThread:  # type: ignore[no-untyped-def]
    return fresh(simulators[request.param])


@pytest.fixture
def store(database_url: str) -> Iterator[HistoryStore]:
    yield from migrated_store(database_url)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[HistoryStore]:
    yield from migrated_store(sqlite_url)


def backfill_until_complete(fetcher: Fetcher, store: HistoryStore, window: Range,
                            *, max_pages: int) -> int:  # fmt: skip
    """Run tasks over ``window`` (as the beat would, pass after pass) until no gap is left."""
    for tasks in range(1, 200):
        if run_task(fetcher, store, window, max_pages=max_pages).complete:
            return tasks
    raise AssertionError("the backfill never completed")


def test_candles_backfill_equals_the_truth_and_leaves_no_gap(sim, store):
    fetcher = Fetcher(ccxt_client(sim), sim.protocol, CANDLES)
    tasks = backfill_until_complete(fetcher, store, CANDLES_WINDOW, max_pages=2)
    window = CANDLES_WINDOW
    assert list(store.iter_candles(CANDLES, window)) == klines_between(
        SYMBOL, window.start_ms, window.end_ms
    )
    assert store.coverage(CANDLES, window).gaps == ()
    assert tasks == (1 if sim.protocol == "binance" else 2)  # 1000 a page; OKX 100


@pytest.mark.parametrize(
    ("protocol", "limit"),
    [("binance", 1000), ("binance", 50), ("binance", 7), ("okx", 100), ("okx", 7)],
)
def test_trades_backfill_equals_the_truth_without_duplicates(protocol, limit, simulators, store):
    sim = fresh(simulators[protocol])
    fetcher = Fetcher(ccxt_client(sim), protocol, TRADES, limit=limit)
    backfill_until_complete(fetcher, store, TRADES_WINDOW, max_pages=40)
    truth = trades_between(SYMBOL, TRADES_WINDOW.start_ms, TRADES_WINDOW.end_ms)
    stored = list(store.iter_trades(TRADES, TRADES_WINDOW))
    assert stored == truth and len({t.id for t in stored}) == len(truth) > 500
    assert store.coverage(TRADES, TRADES_WINDOW).gaps == ()


def test_a_failed_page_is_a_visible_gap_with_its_error_until_a_retry_fills_it(sim, store):
    sim.client.set_faults(every=3)  # the 3rd, 6th, ... history page answers 500
    fetcher = Fetcher(ccxt_client(sim), sim.protocol, TRADES, limit=50)
    first = run_task(fetcher, store, TRADES_WINDOW, max_pages=100)
    assert (first.pages, first.complete) == (2, False)
    assert issubclass(getattr(ccxt, (first.error or "").split(":")[0]), ccxt.BaseError)
    coverage = store.coverage(TRADES, TRADES_WINDOW)
    # Two pages written (Binance from the start, OKX from the end), the rest one
    # FETCH_FAILED gap with the error: nothing skipped.
    [done], [gap] = coverage.complete, coverage.gaps
    assert gap == Gap(gap.range, GapReason.FETCH_FAILED, first.error)
    edge = done.start_ms if sim.protocol == "binance" else done.end_ms
    assert edge == (TRADES_WINDOW.start_ms if sim.protocol == "binance" else TRADES_WINDOW.end_ms)
    backfill_until_complete(fetcher, store, TRADES_WINDOW, max_pages=100)
    assert list(store.iter_trades(TRADES, TRADES_WINDOW)) == trades_between(
        SYMBOL, TRADES_WINDOW.start_ms, TRADES_WINDOW.end_ms
    )
    assert store.coverage(TRADES, TRADES_WINDOW).gaps == ()


def test_a_task_fetches_at_most_its_pages_and_a_rerun_refetches_nothing(sim, sqlite_store):
    store = sqlite_store
    fetcher = Fetcher(ccxt_client(sim), sim.protocol, TRADES, limit=50)
    fetcher.client.load_markets()  # not a history page
    outcome = run_task(fetcher, store, TRADES_WINDOW, max_pages=3)
    assert (outcome.pages, outcome.complete, history_requests(sim)) == (3, False, 3)
    backfill_until_complete(fetcher, store, TRADES_WINDOW, max_pages=1000)
    asked = history_requests(sim)
    again = run_task(fetcher, store, TRADES_WINDOW, max_pages=1000)  # a duplicate delivery
    assert (again.pages, again.complete, history_requests(sim)) == (0, True, asked)


class DropsOneTrade(http.server.BaseHTTPRequestHandler):
    """Forwards to a Binance simulator, but drops the 4th row of every aggTrades answer."""

    upstream = ""

    def do_GET(self) -> None:
        with urllib.request.urlopen(self.upstream + self.path, timeout=5) as answer:
            body = json.loads(answer.read())
        if "/aggTrades" in self.path:
            body = body[:3] + body[4:]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def holey_exchange(simulators) -> Iterator[object]:
    DropsOneTrade.upstream = simulators["binance"].url
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DropsOneTrade)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    params = ccxt_params("binance", "127.0.0.1", server.server_address[1])
    yield rest_client(ExchangeConfig("holey", "binance", params))
    server.shutdown()


def test_a_hole_in_the_trade_id_chain_fails_the_page(holey_exchange):
    first = int(trades_between(SYMBOL, at(0), at(1))[0].id)
    with pytest.raises(ChainBroken, match=f"jump from {first + 2} to {first + 4}"):
        trades_page(holey_exchange, SYMBOL, Cursor(at(0), first), at(1), 10)


def quiet_minute() -> Range:
    """A minute of the test day in which the simulator has no trade."""
    for minute in range(60):
        window = minutes(minute, minute + 1)
        if not trades_between(SYMBOL, window.start_ms, window.end_ms):
            return window
    raise AssertionError("the simulator's first hour has no quiet minute")


def test_an_empty_range_is_complete_and_empty(sim, store):
    quiet = quiet_minute()
    for key in (TRADES, CANDLES):
        fetcher = Fetcher(ccxt_client(sim), sim.protocol, key)
        assert run_task(fetcher, store, quiet, max_pages=5).complete
        assert store.coverage(key, quiet).gaps == ()
    assert list(store.iter_trades(TRADES, quiet)) == list(store.iter_candles(CANDLES, quiet)) == []


def test_trades_of_an_exchange_without_known_paging_stay_a_visible_gap_never_complete(
    simulators, sqlite_store
):
    store = sqlite_store
    sim = fresh(simulators["binance"])
    outcome = run_task(Fetcher(ccxt_client(sim), "kraken", TRADES), store, TRADES_WINDOW,
                       max_pages=5)  # fmt: skip
    assert not outcome.complete and "PagingNotSupported" in (outcome.error or "")
    assert history_requests(sim) == 0 and list(store.iter_trades(TRADES, TRADES_WINDOW)) == []
    [gap] = store.coverage(TRADES, TRADES_WINDOW).gaps
    assert (gap.range, gap.reason) == (TRADES_WINDOW, GapReason.FETCH_FAILED)
