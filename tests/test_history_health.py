"""Gaps are never silent: history in /metrics (the real web app) and in ``status``, from Redis."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.cli import main
from service.health.web import create_app
from service.history.budget import RequestBudget, budget_spec
from service.history.health import load_history_health
from service.history.records import MINUTE_MS, Coverage, Gap, GapReason, Range
from service.history.retry import note_failure
from service.history.summary import read_summaries, summarize, write_summaries
from service.settings import Settings
from tests.history_keys import CANDLES, TRADES
from workers.clock import now_ms


def coverages(now: int) -> list[Coverage]:
    end = now - now % MINUTE_MS
    start = end - 60 * MINUTE_MS
    wanted = Range(start, end)
    failed = Gap(Range(start + 30 * MINUTE_MS, end), GapReason.FETCH_FAILED, "ExchangeError: 503")
    return [
        Coverage(TRADES, wanted, (Range(start, start + 30 * MINUTE_MS),), (failed,), start),
        Coverage(CANDLES, wanted, (wanted,), (), end - MINUTE_MS),
    ]


@pytest.fixture
def stored(redis_client, keys) -> int:
    now = now_ms()
    write_summaries(redis_client, keys, [summarize(c) for c in coverages(now)])
    redis_client.hincrby(keys.history_written(), str(TRADES), 1234)
    RequestBudget(redis_client, keys, "binance", budget_spec(1200)).back_off(429, 60, "429 /api")
    note_failure(redis_client, keys, str(TRADES), "ExchangeError: 503")
    return now


def test_a_summary_says_how_far_the_history_is_gap_free_and_what_is_missing(stored, redis_client,
                                                                             keys):  # fmt: skip
    trades, candles = sorted(read_summaries(redis_client, keys), key=lambda s: s.kind)[::-1]
    assert (trades.kind, trades.gap_minutes, trades.gaps) == ("trades", 30, 1)
    assert trades.first_gap_reason == "fetch-failed" and "503" in trades.first_gap_error
    assert trades.lag_s(stored) >= 30 * 60
    assert (candles.gap_minutes, candles.gaps) == (0, 0)
    assert candles.lag_s(stored) < 60


def test_metrics_show_lag_gap_minutes_rows_written_failures_and_the_backoff(stored, redis_url,
                                                                           key_prefix):  # fmt: skip
    settings = Settings(redis_url=redis_url, key_prefix=key_prefix)

    async def scrape() -> str:
        app = create_app(settings, check_transitions_every=False)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/metrics")
            assert response.status == 200
            return await response.text()

    body = asyncio.run(scrape())
    labels = 'exchange="binance",stream="trades",symbol="BTC/USDT"'
    assert "ticker_history_up 1.0" in body
    assert f"ticker_history_gap_minutes{{{labels}}} 30.0" in body
    assert f"ticker_history_gaps{{{labels}}} 1.0" in body
    assert f"ticker_history_rows_written_total{{{labels}}} 1234.0" in body
    assert f"ticker_history_failed_attempts{{{labels}}} 1.0" in body
    assert (
        'ticker_history_gap_minutes{exchange="binance",stream="candles",symbol="BTC/USDT"} 0.0'
        in body
    )
    lag = [
        line
        for line in body.splitlines()
        if line.startswith(f"ticker_history_lag_seconds{{{labels}}}")
    ]
    assert float(lag[0].split()[-1]) >= 1800
    backoff = [
        line for line in body.splitlines() if line.startswith("ticker_history_backoff_seconds{")
    ]
    assert 'exchange="binance"' in backoff[0] and 'status="429"' in backoff[0]
    assert 55 <= float(backoff[0].split()[-1]) <= 60


def test_status_shows_the_gap_its_error_and_the_backoff(stored, monkeypatch, capsys, redis_url,
                                                        key_prefix):  # fmt: skip
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)
    main(["status"])
    out = capsys.readouterr().out
    assert "history: 2 streams, 30 gap minutes" in out
    assert "binance BTC/USDT trades" in out and "fetch-failed: ExchangeError: 503" in out
    assert "binance backed off for" in out and "(429 /api)" in out
    assert "1 failed in a row, retry in" in out
    main(["status", "--json"])
    history = json.loads(capsys.readouterr().out)["history"]
    assert history["gap_minutes"] == 30
    assert history["backoffs"][0]["status"] == 429
    assert {s["kind"]: s["written"] for s in history["streams"]} == {"trades": 1234, "candles": 0}


def test_nothing_collected_says_nothing(redis_client, keys):
    health = load_history_health(redis_client, keys)
    assert (health.streams, health.backoffs, health.gap_minutes) == ((), (), 0)
