"""The packaged Alembic migrations build exactly the tables the models describe."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from service.db import migrate
from service.db.engine import make_engine
from service.db.models import Base
from service.errors import DatabaseError

REPO_ROOT = Path(__file__).resolve().parents[1]
TABLES = {"exchanges", "symbols", "candles", "trades", "history_ledger"}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _diff(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_upgrade_head_on_an_empty_database_matches_the_models(
    database_url: str, engine: sa.Engine
) -> None:
    migrate.upgrade(database_url)
    assert _diff(engine) == []
    assert migrate.current_revision(engine) == migrate.head_revision()
    migrate.ensure_current(engine)


def test_upgrade_twice_is_harmless(database_url: str, engine: sa.Engine) -> None:
    migrate.upgrade(database_url)
    migrate.upgrade(database_url)
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version", *TABLES}


def test_downgrade_base_drops_the_tables_and_upgrade_rebuilds_them(
    database_url: str, engine: sa.Engine
) -> None:
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "base")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    assert migrate.current_revision(engine) is None
    migrate.upgrade(database_url)
    assert _diff(engine) == []


def test_server_defaults_let_operators_insert_rows_with_plain_sql(
    database_url: str, engine: sa.Engine
) -> None:
    migrate.upgrade(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO exchanges (name, ccxt_id) VALUES ('b', 'binance')"))
        connection.execute(
            sa.text(
                "INSERT INTO symbols (exchange_id, symbol) SELECT id, 'BTC/USDT' FROM exchanges"
            )
        )
        row = connection.execute(
            sa.text("SELECT enabled, mode, poll_interval_s FROM exchanges")
        ).one()
        symbol_enabled = connection.execute(sa.text("SELECT enabled FROM symbols")).scalar_one()
    assert (bool(row.enabled), row.mode, row.poll_interval_s, bool(symbol_enabled)) == (
        True,
        "auto",
        2.0,
        True,
    )


def test_an_unmigrated_database_is_told_to_run_db_upgrade(engine: sa.Engine) -> None:
    with pytest.raises(DatabaseError, match=r"run `ticker-service db upgrade` first"):
        migrate.ensure_current(engine)


def test_an_older_revision_is_told_to_run_db_upgrade(database_url: str, engine: sa.Engine) -> None:
    migrate.upgrade(database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(DatabaseError, match=r"at revision 0000.*db upgrade"):
        migrate.ensure_current(engine)


def test_an_unknown_target_revision_is_a_database_error(sqlite_url: str) -> None:
    with pytest.raises(DatabaseError, match="Can't locate revision"):
        migrate.upgrade(sqlite_url, "nope")


def test_an_unreachable_server_is_a_database_error_without_the_password() -> None:
    url = "postgresql://ticker:s3cret@127.0.0.1:1/nowhere"
    with pytest.raises(DatabaseError) as caught:
        migrate.upgrade(url)
    assert "s3cret" not in str(caught.value)
    assert "db upgrade failed on postgresql://ticker:***@127.0.0.1:1/nowhere" in str(caught.value)


def test_every_migration_file_is_shipped_as_package_data() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["service"]
    package = REPO_ROOT / "service"
    files = [
        path.relative_to(package).as_posix()
        for path in migrate.MIGRATIONS_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]
    assert "db/migrations/env.py" in files
    assert [f for f in files if not any(fnmatch(f, pattern) for pattern in globs)] == []


def _triggers(engine: sa.Engine) -> set[str]:
    """Our edit-notice triggers on the tables of the engine's schema (Postgres)."""
    query = sa.text(
        "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal"
    )
    with engine.connect() as connection:
        return set(connection.execute(query).scalars())


def test_revision_0002_installs_the_edit_triggers_on_postgres_and_downgrade_removes_them(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url)
    try:
        migrate.upgrade(postgres_url)
        assert _triggers(engine) == {"exchanges_notify_edit", "symbols_notify_edit"}
        migrate.downgrade(postgres_url, "0002")
        assert _triggers(engine) == {"exchanges_notify_edit", "symbols_notify_edit"}
        migrate.downgrade(postgres_url, "0001")
        assert _triggers(engine) == set()
        with engine.connect() as connection:
            function = connection.execute(
                sa.text("SELECT to_regproc(current_schema() || '.ticker_notify_edit')")
            ).scalar()
        assert function is None
        assert migrate.current_revision(engine) == "0001"
        migrate.upgrade(postgres_url)
        assert _triggers(engine) == {"exchanges_notify_edit", "symbols_notify_edit"}
    finally:
        engine.dispose()


def test_revision_0002_is_a_no_op_on_sqlite_both_ways(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        migrate.upgrade(sqlite_url)
        migrate.downgrade(sqlite_url, "0002")
        assert migrate.current_revision(engine) == "0002"
        migrate.downgrade(sqlite_url, "0001")
        assert migrate.current_revision(engine) == "0001"
        assert {"exchanges", "symbols"} <= set(sa.inspect(engine).get_table_names())
        migrate.upgrade(sqlite_url)
        assert _diff(engine) == []
    finally:
        engine.dispose()


def _symbol_columns(engine: sa.Engine) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns("symbols")}


def test_revision_0003_keeps_existing_rows_streaming_tickers_only_and_downgrades_cleanly(
    database_url: str, engine: sa.Engine
) -> None:
    migrate.upgrade(database_url, "0002")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO exchanges (name, ccxt_id) VALUES ('b', 'binance')"))
        connection.execute(
            sa.text("INSERT INTO symbols (exchange_id, symbol) SELECT id, 'ETH/BTC' FROM exchanges")
        )
    migrate.upgrade(database_url)
    with engine.connect() as connection:
        query = sa.text("SELECT trades, candles, history_since FROM symbols")
        row = connection.execute(query).one()
    assert (bool(row.trades), bool(row.candles), row.history_since) == (False, False, None)
    migrate.downgrade(database_url, "0002")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version", "exchanges", "symbols"}
    assert {"trades", "candles", "history_since"} & _symbol_columns(engine) == set()
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT symbol FROM symbols")).scalars().all() == [
            "ETH/BTC"
        ]
    migrate.upgrade(database_url)
    assert _diff(engine) == []


def test_revision_0003_partitions_trades_by_range_of_time_on_postgres(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        migrate.upgrade(postgres_url)
        query = sa.text(
            "SELECT pg_get_partkeydef(c.oid) FROM pg_class c "
            "WHERE c.relname = 'trades' AND c.relnamespace = current_schema()::regnamespace"
        )
        with engine.connect() as connection:
            assert connection.execute(query).scalar_one() == 'RANGE ("time")'
    finally:
        engine.dispose()
