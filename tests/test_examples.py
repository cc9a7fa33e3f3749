"""The examples are the contract: run_all runs every one against a private demo.

Each example exits non-zero when what it shows is not true, so a passing run
means every feature it shows works end to end (real Redis, simulators,
worker, beat and web processes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "4/4 examples passed" in result.stdout
    for name in ("service_control", "ticker_retrieval", "live_callback", "price_board"):
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
