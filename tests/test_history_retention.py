"""HISTORY_RETENTION_DAYS through the beat's history pass, with real Postgres, Redis and simulator.

A day of trades across a month boundary is backfilled; a day later (1-day
retention) the pass drops the old month's partition, the ledger forgets it, and
the backfill that follows never asks for it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial

import pytest
import redis

from service.beat.history import HistoryPlanner
from service.beat.main import history_planner
from service.history.job import HistoryJob
from service.history.partitions import Month
from service.history.plan import HistoryTask, PlanLimits
from service.history.records import MINUTE_MS, Range, Stream, StreamKey, Timeframe, Wanted
from service.history.retention import RETENTION_EVERY_MS, Retention
from service.history.store import HistoryStore
from service.history.store_access import load_wanted
from service.history.summary import StreamSummary
from service.history.worker_parts import history_worker
from service.keys import Keys
from service.settings import Settings
from service.simulator.history import trades_between
from service.simulator.testing import SimulatorThread
from tests.history_e2e import SYMBOL, TRADES, add_rows
from tests.history_real import migrated_store

JANUARY, FEBRUARY = Month(2026, 1), Month(2026, 2)
SINCE = FEBRUARY.start_ms - 30 * MINUTE_MS  # 2026-01-31T23:30Z
FIRST_NOW = FEBRUARY.start_ms + 30 * MINUTE_MS + 30_000  # 2026-02-01T00:30:30Z
LATER = FEBRUARY.start_ms + 24 * 60 * MINUTE_MS + 30_000  # a day later: January is past 1 day


def env_settings(monkeypatch, **env: str) -> Settings:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


@pytest.fixture
def settings(monkeypatch, redis_url, key_prefix, postgres_url) -> Settings:
    return env_settings(monkeypatch, REDIS_URL=redis_url, TICKER_KEY_PREFIX=key_prefix,
                        DATABASE_URL=postgres_url, HISTORY_RETENTION_DAYS="1")  # fmt: skip


@pytest.fixture
def store(settings) -> Iterator[HistoryStore]:
    yield from migrated_store(settings.database_url)


def run_tasks(settings: Settings, tasks: list[HistoryTask]) -> None:
    """Run ``tasks`` as a history worker would (each releases its claim)."""
    worker = history_worker(settings)
    for t in tasks:
        key = t.key
        worker.run(HistoryJob(key.exchange, key.symbol, key.stream, t.range.start_ms,
                              t.range.end_ms, t.task_id))  # fmt: skip


def backfill(planner: HistoryPlanner, settings: Settings, now_ms: int,
             sent: list[HistoryTask]) -> None:  # fmt: skip
    """Plan and run tasks at ``now_ms`` until the pass plans nothing more."""
    for _ in range(50):
        sent.clear()
        planner.run(now_ms)
        if not sent:
            return
        run_tasks(settings, sent)
    raise AssertionError("the backfill did not settle")


def summary_of(client: redis.Redis, keys: Keys, key: StreamKey) -> StreamSummary:
    return StreamSummary(**json.loads(client.hget(keys.history_summary(), str(key)) or "{}"))


def test_old_months_are_dropped_and_never_fetched_again(settings, store, redis_client, keys):
    sent: list[HistoryTask] = []
    retention = Retention(1, store.apply_retention)
    planner = HistoryPlanner(
        client=redis_client, keys=keys, load_wanted=partial(load_wanted, settings.database_url),
        coverage=lambda wanted, window: store.coverage(wanted.key, window), enqueue=sent.append,
        limits=PlanLimits(max_in_flight=3), marker_ttl_s=30, retention=retention,
    )  # fmt: skip
    partitions = store.partitions
    assert partitions is not None
    with SimulatorThread("binance", symbols=3, rate=1) as sim:
        add_rows(sim.host, sim.port, SINCE, requests_per_minute=60_000)
        backfill(planner, settings, FIRST_NOW, sent)
        window = Range(SINCE, FIRST_NOW - FIRST_NOW % MINUTE_MS)
        truth = trades_between(SYMBOL, window.start_ms, window.end_ms)
        assert list(store.iter_trades(TRADES, window)) == truth
        assert {JANUARY, FEBRUARY} <= set(partitions.existing())

        sent.clear()
        planner.run(LATER)  # a day later: January's partition goes, the ledger forgets it
        cutoff = retention.cutoff_ms(LATER)
        assert JANUARY not in partitions.existing()
        assert list(store.iter_trades(TRADES, Range(SINCE, FEBRUARY.start_ms))) == []
        # Trades are planned from the cutoff on only: January is not asked for again.
        trades_tasks = [t for t in sent if t.key.stream == Stream.TRADES]
        assert trades_tasks and min(t.range.start_ms for t in trades_tasks) >= cutoff
        assert summary_of(redis_client, keys, TRADES).since_ms == cutoff
        assert retention.due_ms == LATER + RETENTION_EVERY_MS  # next drop an hour later
        run_tasks(settings, sent)
        assert JANUARY not in partitions.existing()  # no January trade written again


def test_the_beat_applies_retention_only_when_the_setting_is_on(monkeypatch, redis_client, keys,
                                                                settings):  # fmt: skip
    on = history_planner(settings, redis_client, keys, lambda task: None)
    assert on.retention is not None and on.retention.days == 1
    monkeypatch.delenv("HISTORY_RETENTION_DAYS")
    off = history_planner(Settings.from_env(), redis_client, keys, lambda task: None)
    assert off.retention is None


def test_candles_keep_their_since_and_trades_start_at_the_cutoff():
    retention = Retention(1, lambda days, now: [])
    now = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp() * 1000)
    since = now - 10 * 24 * 60 * MINUTE_MS
    trades = Wanted(StreamKey("x", SYMBOL, Stream.TRADES), since)
    candles = Wanted(StreamKey("x", SYMBOL, Stream.CANDLES, Timeframe.M1), since)
    assert retention.since_ms(trades, now) == now - 24 * 60 * MINUTE_MS
    assert retention.since_ms(candles, now) == since
