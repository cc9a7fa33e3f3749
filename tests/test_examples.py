"""The examples are the contract: run_all runs every one against a private demo.

Each example exits non-zero when what it shows is not true, so a passing run
means every feature it shows works end to end (real Redis, simulators,
worker, beat and web processes).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ticker_client import Candle, Trade

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.e2e
def test_every_example_passes_against_a_private_demo_in_well_under_a_minute() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "run_all.py")],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "5/5 examples passed" in result.stdout
    names = ("service_control", "ticker_retrieval", "live_callback", "price_board", "history_query")
    for name in names:
        assert f"pass  {name}" in result.stdout


def test_an_example_exits_non_zero_when_what_it_shows_is_not_true(
    redis_url: str, key_prefix: str
) -> None:
    env = {**os.environ, "REDIS_URL": redis_url, "TICKER_KEY_PREFIX": key_prefix}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "ticker_retrieval.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "NOT TRUE: the service stores ticks of at least two exchanges" in result.stdout


def history_query(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """examples/history_query.py as a module (its dataclasses need it in sys.modules)."""
    path = ROOT / "examples" / "history_query.py"
    spec = importlib.util.spec_from_file_location("history_query", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "history_query", module)
    spec.loader.exec_module(module)
    return module


def test_history_query_names_a_hole_in_the_trade_ids_and_a_candle_its_trades_do_not_imply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    example = history_query(monkeypatch)
    t0 = 1_796_076_000_000  # 2026-11-30T22:00:00Z
    check = example.TradeCheck(t0, t0 + 3 * 60_000)
    trades = ((1, 0, 10.0), (2, 1_000, 12.0), (4, 2_000, 11.0), (5, 120_000, 9.0))
    for trade_id, at, price in trades:
        check.add(Trade("sim", "BTC/USDT", str(trade_id), t0 + at, price, 0.5, "buy"))

    right = Candle("sim", "BTC/USDT", t0, 10.0, 12.0, 10.0, 11.0, 1.5, True)
    wrong = Candle("sim", "BTC/USDT", t0, 10.0, 12.0, 10.0, 12.0, 1.5, True)
    stray = Candle("sim", "BTC/USDT", t0 + 60_000, 1.0, 1.0, 1.0, 1.0, 1.0, True)

    assert check.problems == ["the trade ids jump from 2 to 4"]
    assert example.candle_problems(right, check.minutes[t0]) == []
    assert example.candle_problems(wrong, check.minutes[t0]) == [
        "the candle of 22:00 has OHLC (10.0, 12.0, 10.0, 12.0), "
        "its trades imply (10.0, 12.0, 10.0, 11.0)"
    ]
    assert "no trade happened" in example.candle_problems(stray, None)[0]
    assert example.missing_candles(check, {t0}) == ["no candle for 22:02, a minute with trades"]
