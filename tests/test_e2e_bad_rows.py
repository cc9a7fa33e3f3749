"""A real ``ticker-scheduler`` over SQLite: a row of bad JSON does not stop the good exchange."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from bench.procs import BIN, service_env, started
from service.db import migrate, repo
from service.db.engine import make_engine, make_sessionmaker
from service.db.session import session_scope
from service.keys import Keys
from tests.test_db_bad_rows import run_sql

pytestmark = pytest.mark.e2e


def wait_for_value(client: redis.Redis, key: str, field: str, timeout_s: float = 20) -> bytes:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = client.hget(key, field)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{key} {field} not written within {timeout_s} s")


def test_a_row_of_invalid_json_is_named_and_the_good_exchange_still_becomes_desired(
    sqlite_url: str, redis_url: str, key_prefix: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    migrate.upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_scope(make_sessionmaker(engine)) as session:
        repo.add_exchange(session, "good", "binance")
        repo.add_symbols(session, "good", ["BTC/USDT"])
    engine.dispose()
    # The row of the issue: ccxt_params not JSON, written past the CLI with plain SQL.
    run_sql(
        sqlite_url, "INSERT INTO exchanges (name, ccxt_id, ccxt_params) VALUES ('bad', 'okx', '{x')"
    )
    keys = Keys(key_prefix)
    env = service_env(redis_url, key_prefix, DATABASE_URL=sqlite_url, SUPERVISE_INTERVAL_S="1")
    with started([str(BIN / "ticker-scheduler")], env, tmp_path / "beat.log") as beat:
        desired = json.loads(wait_for_value(redis_client, keys.desired(), "good"))
        status = json.loads(wait_for_value(redis_client, keys.beat_status(), "reconcile"))
        output = beat.output()
    assert desired["symbols"] == ["BTC/USDT"]
    assert redis_client.hkeys(keys.desired()) == [b"good"]
    assert status["outcome"] == "ok"
    (row,) = status["skipped_rows"]
    assert (row["table"], row["name"], row["column"]) == ("exchanges", "bad", "ccxt_params")
    assert "not valid JSON" in row["error"]
    logged = [json.loads(line) for line in output.splitlines() if '"row skipped"' in line]
    assert [(e["table"], e["row"], e["column"]) for e in logged] == [
        ("exchanges", "bad", "ccxt_params")
    ]
