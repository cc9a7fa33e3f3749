"""The shared request budget: a token bucket in a real Redis, taken by threads and processes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from service.history.budget import (
    BACKOFF_CAP_S,
    BudgetWaitTooLong,
    RequestBudget,
    backoff_delay_s,
    budget_spec,
    read_backoffs,
    requests_per_minute_from_ccxt,
)
from service.keys import Keys
from tests.budget_taker import take_for

RUN_S = 3.0
# A process of its own taking tokens (run from the repository root, where `tests` is found).
TAKER = [sys.executable, "-m", "tests.budget_taker"]
ROOT = Path(__file__).resolve().parent.parent


def most_in_any_window(grants: list[int], window_ms: int) -> int:
    times = sorted(grants)
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_ms:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


@pytest.mark.parametrize("rpm", [120, 1200])
def test_threads_and_processes_together_never_exceed_the_budget(redis_url, key_prefix, rpm):
    spec = budget_spec(rpm)
    until = time.time() + RUN_S + 1.0  # the processes need a moment to start
    procs = [
        subprocess.Popen(
            [*TAKER, redis_url, key_prefix, str(rpm), str(until)],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    grants: list[int] = []
    threads = [
        threading.Thread(
            target=take_for,
            args=(
                RequestBudget(redis.Redis.from_url(redis_url), Keys(key_prefix), "binance", spec),
                until,
                grants,
            ),
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        out, _ = proc.communicate(timeout=30)
        grants.extend(json.loads(out))
    span_ms = max(grants) - min(grants)
    # Any window of W ms sees at most burst + rate * W: with W = 60 s that is rpm.
    for window_ms in (1000, 2000):
        allowed = spec.burst + spec.rate_per_s * window_ms / 1000
        assert most_in_any_window(grants, window_ms) <= allowed
    assert len(grants) <= spec.burst + spec.rate_per_s * span_ms / 1000 + 1
    # ... and a busy bucket is used, not left idle: at least 90% of the refill.
    assert len(grants) >= 0.9 * spec.rate_per_s * span_ms / 1000


def test_the_bucket_never_grants_more_than_n_in_any_minute_by_construction():
    for rpm in (2, 59, 60, 120, 1200, 6000):
        spec = budget_spec(rpm)
        assert spec.burst + spec.rate_per_s * 60 == pytest.approx(rpm)
        assert spec.burst >= 1 and spec.rate_per_s > 0


def test_a_budget_below_two_a_minute_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        budget_spec(1)


@pytest.mark.parametrize(("rate_limit_ms", "rpm"), [(50, 1200), (110, 545), (1000, 60)])
def test_the_default_budget_comes_from_ccxt_rate_limit(rate_limit_ms, rpm):
    assert requests_per_minute_from_ccxt(rate_limit_ms) == rpm


@pytest.mark.parametrize(
    ("strikes", "retry_after", "delay"),
    [
        (1, None, 5.0),
        (2, None, 10.0),
        (4, None, 40.0),
        (30, None, BACKOFF_CAP_S),
        (3, 120.0, 120.0),
    ],
)
def test_backoff_is_the_exchanges_word_else_capped_exponential(strikes, retry_after, delay):
    assert backoff_delay_s(strikes, retry_after) == delay


def test_a_429_backs_the_whole_exchange_off_for_every_worker(redis_url, redis_client, keys):
    spec = budget_spec(1200)
    one = RequestBudget(redis_client, keys, "binance", spec)
    other = RequestBudget(redis.Redis.from_url(redis_url), keys, "binance", spec)  # another worker
    assert one.try_take()[0]
    assert one.back_off(429, 1.5, "429 Too Many Requests") == 1.5
    granted, wait_ms, _ = other.try_take()
    assert not granted and 1000 < wait_ms <= 1500
    [backoff] = read_backoffs(redis_client, keys)
    assert (backoff.exchange, backoff.status) == ("binance", 429)
    assert backoff.reason == "429 Too Many Requests"
    # A shorter backoff does not cut a longer one short.
    one.back_off(429, 0.1, "again")
    assert redis_client.pttl(keys.request_backoff("binance")) > 1000
    time.sleep(1.6)
    assert other.try_take()[0]
    assert read_backoffs(redis_client, keys) == []


def test_take_waits_for_a_token_and_gives_up_after_its_patience(redis_client, keys):
    budget = RequestBudget(redis_client, keys, "binance", budget_spec(120))  # burst 2, ~2/s
    started = time.monotonic()
    for _ in range(4):
        budget.take(max_wait_s=5)
    assert time.monotonic() - started >= 0.9  # two from the burst, two refilled at ~2/s
    budget.back_off(418, 5, "418 I'm a teapot")
    with pytest.raises(BudgetWaitTooLong, match="binance"):
        budget.take(max_wait_s=0.3)
