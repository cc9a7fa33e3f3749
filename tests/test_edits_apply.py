"""Edits apply at once (issue 12, point 3), with real processes and default intervals.

A CLI edit wakes the beat through Redis; a plain-SQL edit on Postgres wakes it
through the migration's trigger (LISTEN/NOTIFY). Either way the desired state
follows within 2 s although RECONCILE_INTERVAL_S is its default 300 s.
``symbols add --wait`` returns when the new symbol ticks, or says why not.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bench.procs import BIN, service_env, started, worker_args
from service.db.engine import make_engine
from service.keys import Keys
from service.simulator.testing import SimulatorProcess
from tests.test_e2e_health import sim  # noqa: F401  (the fixture: 8 simulated symbols)
from tests.test_e2e_workers import board, wait_until

pytestmark = pytest.mark.e2e

APPLY_WITHIN_S = 2.0


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "ticker-service"), *args], env=env, capture_output=True, text=True, timeout=90
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def desired_symbols(client: redis.Redis, keys: Keys, job_key: str) -> list[str]:
    raw = client.hget(keys.desired(), job_key)
    return list(json.loads(raw)["symbols"]) if raw else []


def beat_env(redis_url: str, key_prefix: str, database_url: str) -> dict[str, str]:
    """Default beat intervals (reconcile 300 s, supervision 5 s): only the wake-up is fast."""
    env = service_env(redis_url, key_prefix, DATABASE_URL=database_url)
    for name in ("RECONCILE_INTERVAL_S", "SUPERVISE_INTERVAL_S"):
        env.pop(name, None)
    cli(env, "db", "upgrade")
    cli(env, "exchanges", "add", "alpha", "--ccxt-id", "binance")
    cli(env, "symbols", "add", "alpha", "BTC/USDT")
    return env


@pytest.fixture
def beat_log(tmp_path: Path) -> Path:
    return tmp_path / "beat.log"


def _first_reconcile(client: redis.Redis, keys: Keys) -> None:
    wait_until(
        lambda: desired_symbols(client, keys, "alpha") == ["BTC/USDT"], 30, "first reconcile"
    )


def test_a_cli_symbols_add_reaches_the_desired_state_within_2_s_on_sqlite(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    sqlite_url: str,
    beat_log: Path,
) -> None:
    env = beat_env(redis_url, key_prefix, sqlite_url)
    with started([str(BIN / "ticker-scheduler")], env, beat_log) as beat:
        _first_reconcile(redis_client, keys)
        began = time.monotonic()
        done = cli(env, "symbols", "add", "alpha", "ETH/USDT")
        exited = time.monotonic()
        assert "beat notified" in done.stderr
        wait_until(lambda: "ETH/USDT" in desired_symbols(redis_client, keys, "alpha"), 10, "edit")
        applied = time.monotonic()
        print(
            f"CLI edit applied {applied - exited:.2f} s after the CLI exited "
            f"({applied - began:.2f} s after it started; RECONCILE_INTERVAL_S=300)"
        )
        assert applied - exited < APPLY_WITHIN_S, beat.output()[-3000:]
        assert "beat woken" in beat.output()


def test_a_plain_sql_insert_on_postgres_reaches_the_desired_state_within_2_s(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    postgres_url: str,
    beat_log: Path,
) -> None:
    env = beat_env(redis_url, key_prefix, postgres_url)
    engine = make_engine(postgres_url)
    try:
        with started([str(BIN / "ticker-scheduler")], env, beat_log) as beat:
            _first_reconcile(redis_client, keys)
            wait_until(lambda: _listening(beat.output(), "postgres"), 10, "LISTEN")
            began = time.monotonic()
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO symbols (exchange_id, symbol) "
                        "SELECT id, 'ETH/USDT' FROM exchanges WHERE name = 'alpha'"
                    )
                )
            committed = time.monotonic()
            wait_until(
                lambda: "ETH/USDT" in desired_symbols(redis_client, keys, "alpha"), 10, "sql"
            )
            applied = time.monotonic()
            print(f"plain SQL insert applied {applied - committed:.2f} s after the commit")
            assert applied - began < APPLY_WITHIN_S, beat.output()[-3000:]
    finally:
        engine.dispose()


def _listening(output: str, source: str) -> bool:
    lines = (json.loads(line) for line in output.splitlines() if line.startswith("{"))
    return any(e.get("event") == "beat listening" and e.get("source") == source for e in lines)


def test_symbols_add_wait_returns_when_the_symbol_ticks_and_explains_when_it_cannot(
    redis_url: str,
    key_prefix: str,
    keys: Keys,
    redis_client: redis.Redis,
    sqlite_url: str,
    tmp_path: Path,
    sim: SimulatorProcess,  # noqa: F811
) -> None:
    # Default lease and heartbeat timings: the time printed is what an operator waits.
    env = service_env(
        redis_url,
        key_prefix,
        DATABASE_URL=sqlite_url,
        LEASE_TTL_S="15",
        HEARTBEAT_INTERVAL_S="5",
        STALE_AFTER_S="30",
    )
    first, second, *_ = sorted(sim.client.last())
    cli(env, "db", "upgrade")
    params = json.dumps(sim.ccxt_params)
    cli(env, "exchanges", "add", "alpha", "--ccxt-id", "binance", "--params", params)
    with started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log"):
        wait_until(lambda: redis_client.exists(keys.beat_lock()), 30, "the beat")
        done = cli(env, "symbols", "add", "alpha", first, "--wait", "--timeout", "3", check=False)
        assert done.returncode == 1
        assert "no tick within 3 s" in done.stderr, done.stderr
        assert f"{first}: job alpha is not up: no heartbeat (is a worker running?)" in done.stderr

        with started(worker_args(), env, tmp_path / "worker.log"):
            wait_until(lambda: first in board(redis_client, keys, "alpha"), 30, "first ticks")
            began = time.monotonic()
            done = cli(env, "symbols", "add", "alpha", second, "--wait", check=False)
            took = time.monotonic() - began
            print(f"symbols add {second} --wait returned {done.returncode} after {took:.1f} s")
            print(done.stdout)
            assert done.returncode == 0, done.stderr
            assert f"{second} ticking on alpha" in done.stdout

            done = cli(env, "symbols", "add", "alpha", "NOPE/USDT", "--wait", check=False)
            assert done.returncode == 1
            assert "alpha does not list NOPE/USDT" in done.stderr, done.stderr
