"""Market history (issue 13 point 8): backfill speed, budget use, bulk ingest, RSS, in one run.

Everything runs against one simulator process (Binance protocol, its history
served over real HTTP), the shared Redis under the run's prefix, and Postgres
in a throw-away schema migrated to head. The backfill path is the worker's:
``HistoryWorker.run`` (what the ``fetch_history`` actor hands off to) with its
gated ccxt client, the shared Redis token bucket and ``HistoryStore.write_page``
(COPY, ledger in the same transaction), driven by ``bench/history_tasks.py``
as one worker process with two threads would run it; Dramatiq's queue and the
beat's planning interval are not measured here.

(a) no budget (the exchange row at 10^6 requests a minute): candles/s, then
trades/s; (b) a budget that binds: the row's ``requests_per_minute`` set to
~40 % of what (a) reached, the simulator counting every request per 1-second
window; (c) ``write_page`` against a plain psycopg2 ``executemany`` of
``INSERT ... ON CONFLICT DO NOTHING`` (``bench/history_ingest.py``);
(d) RSS of a separate process (spawned fresh) backfilling many trades.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import structlog
from sqlalchemy.orm import Session, sessionmaker

from bench.beat_scale import postgres_schema
from bench.common import RedisSpace, cpu_seconds, goal, table
from bench.history_ingest import bulk_ingest
from bench.history_tasks import Tally, drive, history_worker, jobs_for, past_window
from service.db.engine import make_sessionmaker
from service.db.migrate import upgrade
from service.db.repo import add_exchange
from service.db.session import session_scope
from service.history.exchange_config import set_requests_per_minute
from service.history.job import HistoryWorker
from service.history.records import Range, Stream
from service.history.store import HistoryStore
from service.redis_client import sync_client
from service.simulator import history as truth
from service.simulator.testing import SimulatorProcess

NO_BUDGET_RPM = 1_000_000
CANDLES, TRADES = Stream.CANDLES, Stream.TRADES


@dataclass(frozen=True)
class Plan:
    symbols: int
    candle_hours: int  # per symbol
    trade_hours: int  # per symbol
    budget_s: float
    ingest_rows: int  # per round, through write_page
    baseline_rows: int  # per round, through executemany
    rounds: int
    rss_trades: int
    rss_every_tasks: int


PLANS = {
    "full": Plan(4, 1000, 24, 75.0, 1_000_000, 200_000, 2, 5_000_000, 20),
    "quick": Plan(2, 300, 4, 12.0, 100_000, 20_000, 1, 200_000, 5),
    "tiny": Plan(2, 40, 1, 4.0, 5_000, 2_000, 1, 20_000, 1),
}


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    plan = PLANS[mode]
    with (
        quiet_logs(),
        postgres_schema() as url,
        SimulatorProcess("binance", symbols=10, rate=1) as sim,
    ):
        upgrade(url)
        sim.client.set_budget(None, window_s=1.0)  # unlimited, counted per second
        symbols = busiest(sorted(sim.client.symbols()), plan.symbols)
        store = HistoryStore(url)
        try:
            sessions = make_sessionmaker(store.engine)
            for name, rpm in (("free", NO_BUDGET_RPM), ("rss", NO_BUDGET_RPM), ("capped", None)):
                _add_row(sessions, name, sim.ccxt_params, rpm)
            worker = history_worker(space, store, sessions)
            speed = backfill_speed(worker, symbols, plan, sim_pid(sim))
            budget = budget_use(worker, sim, sessions, symbols, plan, speed)
            ingest = bulk_ingest(
                store,
                symbols[0],
                rows=plan.ingest_rows,
                baseline_rows=plan.baseline_rows,
                rounds=plan.rounds,
            )
        finally:
            store.close()
        rss = rss_backfill(url, space, symbols, plan)
    return report(plan, speed, budget, ingest, rss)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """Warnings and errors only (a log line per task would drown the table), then as before."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**saved)


def sim_pid(sim: SimulatorProcess) -> int:
    assert sim.process is not None
    return sim.process.pid


def busiest(symbols: Sequence[str], count: int) -> list[str]:
    """The ``count`` symbols with the most trades an hour (fewest pages for a trade count)."""
    return sorted(symbols, key=lambda s: (-truth.trades_per_hour(s), s))[:count]


def _add_row(sessions: sessionmaker[Session], name: str, params: dict[str, Any], rpm: Any) -> None:
    with session_scope(sessions, action="bench: add exchange") as session:
        add_exchange(session, name, "binance", ccxt_params=params)
    _set_rpm(sessions, name, rpm)


def _set_rpm(sessions: sessionmaker[Session], name: str, rpm: int | None) -> None:
    with session_scope(sessions, action="bench: set budget") as session:
        set_requests_per_minute(session, name, rpm)


# -- (a) speed without a budget ----------------------------------------------------------
def backfill_speed(
    worker: HistoryWorker, symbols: list[str], plan: Plan, sim_pid: int
) -> dict[str, Any]:
    cw, tw = past_window(plan.candle_hours), past_window(plan.trade_hours)
    candles = _with_cpu(sim_pid, lambda: drive(worker, jobs_for("free", symbols, CANDLES, cw)))
    trades = _with_cpu(sim_pid, lambda: drive(worker, jobs_for("free", symbols, TRADES, tw)))
    expected = sum(_trade_count(s, tw) for s in symbols)
    return {
        "candles": candles,
        "trades": trades,
        "candles_per_s": candles["rows"] / candles["seconds"],
        "trades_per_s": trades["rows"] / trades["seconds"],
        "trade_pages_per_s": trades["pages"] / trades["seconds"],
        "trades_expected": expected,
        "trades_complete": trades["rows"] == expected and not trades["errors"],
    }


def _with_cpu(sim_pid: int, work: Callable[[], Tally]) -> dict[str, Any]:
    """``work()``'s tally with the CPU % (of one core) of this process and of the simulator."""
    own = psutil.Process()
    before, sim_before = sum(own.cpu_times()[:2]), cpu_seconds(sim_pid)
    tally = work()
    cpu, sim_cpu = sum(own.cpu_times()[:2]) - before, cpu_seconds(sim_pid) - sim_before
    return {**asdict(tally), "cpu_pct": 100 * cpu / tally.seconds,
            "sim_cpu_pct": 100 * sim_cpu / tally.seconds}  # fmt: skip


def _trade_count(symbol: str, window: Range) -> int:
    return truth.first_id_at(symbol, window.end_ms) - truth.first_id_at(symbol, window.start_ms)


# -- (b) the share of a binding budget actually used -------------------------------------
def budget_use(
    worker: HistoryWorker,
    sim: SimulatorProcess,
    sessions: sessionmaker[Session],
    symbols: list[str],
    plan: Plan,
    speed: dict[str, Any],
) -> dict[str, Any]:
    rpm = max(60, int(speed["trade_pages_per_s"] * 60 * 0.4))
    _set_rpm(sessions, "capped", rpm)
    jobs = jobs_for("capped", symbols, Stream.TRADES, past_window(2000, hours_ago=200))
    start_ms = int(time.time() * 1000)
    tally = drive(worker, jobs, until=time.monotonic() + plan.budget_s)
    stop_ms = int(time.time() * 1000)
    per_s = _per_second(sim.client.budget()["windows"], start_ms, stop_ms)
    inner = per_s[1:-1]  # whole seconds only: the first and last are partial
    share = sum(inner) / (rpm / 60 * len(inner)) if inner else float("nan")
    return {
        "requests_per_minute": rpm,
        "seconds": (stop_ms - start_ms) / 1000,
        "requests": sum(per_s),
        "pages": tally.pages,
        "share_used": share,
        "max_any_60s": max(sum(per_s[i : i + 60]) for i in range(max(1, len(per_s) - 59))),
        "max_one_s": max(per_s, default=0),
        "per_second": per_s,
    }


def _per_second(windows: list[dict[str, Any]], start_ms: int, stop_ms: int) -> list[int]:
    """Requests the simulator saw in each 1-second window from ``start_ms`` to ``stop_ms``."""
    seen = {w["start_ms"]: sum(e["requests"] for e in w["endpoints"].values()) for w in windows}
    first = start_ms - start_ms % 1000
    return [seen.get(second, 0) for second in range(first, stop_ms + 1, 1000)]


# -- (d) RSS of a process backfilling many trades ----------------------------------------
def rss_backfill(url: str, space: RedisSpace, symbols: list[str], plan: Plan) -> dict[str, Any]:
    """Run ``rss_child`` in a freshly spawned interpreter (no earlier phase in its heap)."""
    per_symbol = plan.rss_trades // len(symbols)
    hours = max(1, -(-per_symbol // min(truth.trades_per_hour(s) for s in symbols)))
    window = past_window(hours, hours_ago=2200)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return dict(pool.apply(rss_child, (url, space.url, space.prefix, symbols, window, plan)))


def rss_child(
    url: str, redis_url: str, prefix: str, symbols: list[str], window: Range, plan: Plan
) -> dict[str, Any]:
    """Backfill ``window`` of trades of ``symbols``; RSS every ``rss_every_tasks`` tasks."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    process = psutil.Process()
    samples = [{"tasks": 0, "rows": 0, "rss_mb": process.memory_info().rss / 2**20}]

    def sample(tally: Tally) -> None:
        if tally.tasks % plan.rss_every_tasks == 0:
            rss = process.memory_info().rss / 2**20
            samples.append(
                {"tasks": tally.tasks, "rows": tally.rows, "pages": tally.pages, "rss_mb": rss}
            )

    store, client = HistoryStore(url), sync_client(redis_url)
    try:
        space = RedisSpace(redis_url, prefix, client)
        worker = history_worker(space, store, make_sessionmaker(store.engine))
        tally = drive(worker, jobs_for("rss", symbols, Stream.TRADES, window), after_task=sample)
    finally:
        store.close()
        client.close()
    sample(Tally(tasks=0, rows=tally.rows, pages=tally.pages))  # the last reading
    return {"tally": asdict(tally), "samples": samples, "trades_per_s": tally.rows / tally.seconds}


# -- the report --------------------------------------------------------------------------
def report(plan: Plan, speed: Any, budget: Any, ingest: Any, rss: Any) -> dict[str, Any]:
    """The table, the goals and the raw figures (dicts of the four parts)."""
    first, peak, last = _rss_reading(rss["samples"])
    candles, trades = speed["candles"], speed["trades"]
    rows = [
        ("(a) backfill candles, no budget", "candles/s", speed["candles_per_s"],
         f"{candles['rows']:,} in {candles['seconds']:.1f} s; CPU % bench/sim "
         f"{candles['cpu_pct']:.0f}/{candles['sim_cpu_pct']:.0f}"),
        ("(a) backfill trades, no budget", "trades/s", speed["trades_per_s"],
         f"{trades['rows']:,} in {trades['seconds']:.1f} s, {speed['trade_pages_per_s']:.1f} "
         f"pages/s; CPU % bench/sim {trades['cpu_pct']:.0f}/{trades['sim_cpu_pct']:.0f}; "
         f"all there: {speed['trades_complete']}"),
        ("(b) share of the budget used", "share", budget["share_used"],
         f"{budget['requests_per_minute']} req/min for {budget['seconds']:.0f} s; "
         f"max {budget['max_any_60s']} in any 60 s"),
        ("(c) ingest, HistoryStore.write_page (COPY)", "rows/s", ingest["write_page_rows_per_s"],
         f"{plan.ingest_rows:,} trades x {plan.rounds}"),
        ("(c) ingest, executemany INSERT baseline", "rows/s", ingest["executemany_rows_per_s"],
         f"{plan.baseline_rows:,} trades x {plan.rounds}; COPY/plain {ingest['ratio']:.1f}"),
        ("(d) RSS backfilling trades (last)", "MB", last,
         f"first/max/last {first:.1f}/{peak:.1f}/{last:.1f} over {rss['tally']['rows']:,} "
         f"trades at {rss['trades_per_s']:,.0f}/s"),
    ]  # fmt: skip
    over = budget["max_any_60s"] / budget["requests_per_minute"]
    goals = [
        goal("share of the budget used", budget["share_used"], 0.9, at_least=True),
        goal("most requests in any 60 s / requests per minute", over, 1.0, at_least=False),
        goal("write_page trade rows/s", ingest["write_page_rows_per_s"], 100_000, at_least=True),
        goal("RSS growth first -> last sample, MB", last - first, 10.0, at_least=False),
    ]
    figures = {"speed": speed, "budget": budget, "ingest": ingest, "rss": rss}
    return {"plan": asdict(plan), **figures, "rss_first_mb": first, "rss_max_mb": peak,
            "rss_last_mb": last, "goals": goals,
            "table": table(("measure", "unit", "value", "detail"), rows)}  # fmt: skip


def _rss_reading(samples: list[dict[str, Any]]) -> tuple[float, float, float]:
    """First (after the first tasks: client built, pools warm), max and last RSS in MB."""
    values = [s["rss_mb"] for s in samples[1:]] or [samples[0]["rss_mb"]]
    return values[0], max(values), values[-1]
