"""Malformed rows written with plain SQL (SQLite and Postgres): each is skipped and named, the
rest is applied. The beat's pass runs for real: its log line, its stored status, Redis."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import structlog

from bench.procs import BIN, service_env
from service.beat.reconcile import ReconcileOptions
from service.beat.runner import Beat
from service.beat.source import DatabaseSource
from service.db import migrate, repo
from service.db.engine import make_engine, make_sessionmaker
from service.db.session import session_scope
from service.desired import DesiredState
from service.keys import Keys

SECRET = "s3cret-value-123"
GOOD = "INSERT INTO exchanges (name, ccxt_id) VALUES ('good', 'binance')"


def add_symbol(symbol: str, exchange: str = "good", enabled: str = "true") -> str:
    return (
        "INSERT INTO symbols (exchange_id, symbol, enabled) "
        f"SELECT id, '{symbol}', {enabled} FROM exchanges WHERE name = '{exchange}'"
    )


def history_symbol(symbol: str, **columns: str) -> str:
    """A symbols row of 'good' with these SQL literals in its history columns."""
    names = ", ".join(columns)
    return (
        f"INSERT INTO symbols (exchange_id, symbol, {names}) "
        f"SELECT id, '{symbol}', {', '.join(columns.values())} FROM exchanges WHERE name = 'good'"
    )


def bad_exchange(**columns: str) -> str:
    """An exchanges row named 'bad' (unless given) with these SQL literals."""
    values = {"name": "'bad'", "ccxt_id": "'binance'", **columns}
    return f"INSERT INTO exchanges ({', '.join(values)}) VALUES ({', '.join(values.values())})"


@dataclass(frozen=True)
class Case:
    sql: tuple[str, ...]
    table: str
    name: str
    column: str
    error: str
    sqlite_only: bool = False  # Postgres refuses the value itself (a json or boolean column)


CASES = {
    "ccxt_params not JSON": Case(
        (bad_exchange(ccxt_params="'{bad'"),), "exchanges", "bad", "ccxt_params",
        "not valid JSON", sqlite_only=True),
    "watch_params not JSON": Case(
        (bad_exchange(watch_params="'not json'"),), "exchanges", "bad", "watch_params",
        "not valid JSON", sqlite_only=True),
    "ccxt_params a list": Case(
        (bad_exchange(ccxt_params="'[1, 2]'"),), "exchanges", "bad", "ccxt_params", "not a list"),
    "ccxt_params a string holding a secret": Case(
        (bad_exchange(ccxt_params=f"'\"{SECRET}\"'"),), "exchanges", "bad", "ccxt_params",
        "not a string"),
    "watch_params a number": Case(
        (bad_exchange(watch_params="'5'"),), "exchanges", "bad", "watch_params", "not a number"),
    "ccxt_params JSON null": Case(
        (bad_exchange(ccxt_params="'null'"),), "exchanges", "bad", "ccxt_params", "not null"),
    "credentials in ccxt_params": Case(
        (bad_exchange(ccxt_params=f"'{{\"apiKey\": \"{SECRET}\"}}'"),), "exchanges", "bad",
        "ccxt_params", "holds a credential (apiKey)"),
    "credentials deep in watch_params": Case(
        (bad_exchange(watch_params=f"'{{\"options\": {{\"secret\": \"{SECRET}\"}}}}'"),),
        "exchanges", "bad", "watch_params", "holds a credential (options.secret)"),
    "text in poll_interval_s": Case(
        (bad_exchange(poll_interval_s="'abc'"),), "exchanges", "bad", "poll_interval_s",
        "expected a number", sqlite_only=True),
    "negative poll_interval_s": Case(
        (bad_exchange(poll_interval_s="-1"),), "exchanges", "bad", "poll_interval_s",
        "positive number"),
    "unknown mode": Case(
        (bad_exchange(mode="'pigeon'"),), "exchanges", "bad", "mode", "is not one of"),
    "empty name": Case((bad_exchange(name="''"),), "exchanges", "", "name", "is not valid"),
    "blank name": Case((bad_exchange(name="'  '"),), "exchanges", "  ", "name", "is not valid"),
    "uppercase name": Case((bad_exchange(name="'BAD'"),), "exchanges", "BAD", "name", "lowercase"),
    "unknown ccxt id": Case(
        (bad_exchange(ccxt_id="'nosuchexchange'"),), "exchanges", "bad", "ccxt_id",
        "unknown ccxt exchange id"),
    "enabled 2": Case(
        (bad_exchange(enabled="2"),), "exchanges", "bad", "enabled", "is 2", sqlite_only=True),
    "enabled 'yes'": Case(
        (bad_exchange(enabled="'yes'"),), "exchanges", "bad", "enabled", "is 'yes'",
        sqlite_only=True),
    "malformed symbol": Case(
        (add_symbol("btc-usdt"),), "symbols", "btc-usdt", "symbol", "not a unified symbol"),
    "empty symbol": Case((add_symbol(""),), "symbols", "", "symbol", "not a unified symbol"),
    "symbol enabled 'yes'": Case(
        (add_symbol("SOL/USDT", enabled="'yes'"),), "symbols", "SOL/USDT", "enabled", "'yes'",
        sqlite_only=True),
    "text in history_since": Case(
        (history_symbol("SOL/USDT", history_since="'yesterday'"),), "symbols", "SOL/USDT",
        "history_since", "expected UTC epoch milliseconds", sqlite_only=True),
    "a fraction in history_since": Case(
        (history_symbol("SOL/USDT", history_since="1.5"),), "symbols", "SOL/USDT",
        "history_since", "is 1.5", sqlite_only=True),
    "trades 'yes'": Case(
        (history_symbol("SOL/USDT", trades="'yes'"),), "symbols", "SOL/USDT", "trades",
        "trades is 'yes'", sqlite_only=True),
    "candles 2": Case(
        (history_symbol("SOL/USDT", candles="2"),), "symbols", "SOL/USDT", "candles",
        "candles is 2", sqlite_only=True),
    "symbol of a bad exchange": Case(
        (bad_exchange(mode="'pigeon'"), add_symbol("BTC/USDT", exchange="bad")),
        "exchanges", "bad", "mode", "is not one of"),
    "symbol without an exchange": Case(
        ("INSERT INTO symbols (exchange_id, symbol) VALUES (999, 'BTC/USDT')",),
        "symbols", "BTC/USDT", "exchange_id", "names no exchange", sqlite_only=True),
}  # fmt: skip


def run_sql(url: str, *statements: str) -> None:
    """Plain SQL through the driver, as an operator's shell would (SQLite: foreign keys off)."""
    if url.startswith("sqlite"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
        return
    engine = make_engine(url)
    connection = engine.raw_connection()
    try:
        with closing(connection.cursor()) as cursor:
            for statement in statements:
                cursor.execute(statement)
        connection.commit()
    finally:
        connection.close()
        engine.dispose()


@pytest.fixture
def db(database_url: str) -> str:
    """A migrated database holding 'good' (binance, BTC/USDT and ETH/USDT)."""
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        repo.add_exchange(session, "good", "binance")
        repo.add_symbols(session, "good", ["BTC/USDT", "ETH/USDT"])
    engine.dispose()
    return database_url


@pytest.fixture
def beat(db: str, redis_client: redis.Redis, keys: Keys) -> Iterator[Beat]:
    source = DatabaseSource(db)
    options = ReconcileOptions(shard_size=200, allow=None, pending_ttl_s=60)
    yield Beat(
        client=redis_client,
        keys=keys,
        load=source,
        enqueue=lambda job_key: None,
        options=options,
        beat_id="test-beat",
    )
    source.close()


def named(row: Any) -> tuple[str, str, str]:
    return (row["table"], row["name"], row["column"])


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_malformed_row_is_skipped_and_named_while_the_good_rows_are_applied(
    case: Case, db: str, beat: Beat, redis_client: redis.Redis, keys: Keys
) -> None:
    if case.sqlite_only and not db.startswith("sqlite"):
        pytest.skip("Postgres refuses this value on insert")
    run_sql(db, *case.sql)
    with structlog.testing.capture_logs() as logs:
        status = beat.reconcile_pass()
    assert status is not None and status.outcome == "ok", status
    assert DesiredState(redis_client, keys).all()["good"].symbols == ("BTC/USDT", "ETH/USDT")
    assert list(DesiredState(redis_client, keys).all()) == ["good"]
    stored = json.loads(redis_client.hget(keys.beat_status(), "reconcile") or "{}")
    assert [named(row) for row in stored["skipped_rows"]] == [(case.table, case.name, case.column)]
    assert case.error in stored["skipped_rows"][0]["error"]
    assert isinstance(stored["skipped_rows"][0]["id"], int) or case.table == "symbols"
    lines = [entry for entry in logs if entry["event"] == "row skipped"]
    assert [(e["table"], e["row"], e["column"]) for e in lines] == [
        (case.table, case.name, case.column)
    ]
    assert SECRET not in json.dumps(stored) and SECRET not in repr(logs)


def test_rows_fixed_later_are_applied_at_the_next_reconcile(
    db: str, beat: Beat, redis_client: redis.Redis, keys: Keys
) -> None:
    run_sql(db, bad_exchange(ccxt_params="'[1]'"), add_symbol("BTC/USDT", exchange="bad"))
    first = beat.reconcile_pass()
    assert first is not None and [r.name for r in first.skipped_rows] == ["bad"]
    run_sql(db, "UPDATE exchanges SET ccxt_params = '{}' WHERE name = 'bad'")
    second = beat.reconcile_pass()
    assert second is not None and second.skipped_rows == ()
    assert sorted(DesiredState(redis_client, keys).all()) == ["bad", "good"]


def test_status_json_run_as_a_process_names_each_skipped_row_without_the_secret(
    db: str, beat: Beat, redis_url: str, key_prefix: str
) -> None:
    run_sql(
        db,
        bad_exchange(ccxt_params=f'\'{{"apiKey": "{SECRET}"}}\''),
        add_symbol("btc-usdt"),
    )
    beat.reconcile_pass()
    env = service_env(redis_url, key_prefix, LOG_LEVEL="WARNING")
    shown = subprocess.run(
        [str(BIN / "ticker-service"), "status", "--json"],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    rows = json.loads(shown.stdout)["beat"]["reconcile"]["skipped_rows"]
    assert [named(row) for row in rows] == [
        ("exchanges", "bad", "ccxt_params"),
        ("symbols", "btc-usdt", "symbol"),
    ]
    assert rows[1]["exchange"] == "good" and "not a unified symbol" in rows[1]["error"]
    table = subprocess.run(
        [str(BIN / "ticker-service"), "status"], env=env, capture_output=True, text=True, timeout=30
    ).stdout
    assert "skipped by the last reconcile (2 rows" in table
    line = next(line for line in table.splitlines() if line.strip().startswith("exchanges"))
    assert line.split()[:3] == ["exchanges", "bad", "ccxt_params"]
    assert "holds a credential (apiKey)" in line
    assert SECRET not in shown.stdout + shown.stderr + table


def test_the_read_names_the_row_id_when_the_name_is_blank(db: str) -> None:
    run_sql(db, bad_exchange(name="''", ccxt_params="'[1]'"))
    engine = make_engine(db)
    with session_scope(make_sessionmaker(engine)) as session:
        loaded = repo.load_enabled(session)
    engine.dispose()
    assert [s.name for s in loaded] == ["good"]
    (skipped,) = loaded.skipped
    assert (skipped.name, skipped.column, isinstance(skipped.id, int)) == ("", "ccxt_params", True)
