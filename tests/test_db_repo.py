"""The repository functions over a real SQLite and a real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from service.db import migrate, repo
from service.db.engine import make_engine, make_sessionmaker
from service.db.session import migrated_session, session_scope
from service.db.snapshot import ExchangeSnapshot
from service.errors import DatabaseError, ValidationError


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: sa.Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@contextmanager
def refused(factory: sessionmaker[Session], message: str) -> Iterator[Session]:
    """A session whose write must raise ValidationError matching ``message`` (and roll back)."""
    with pytest.raises(ValidationError, match=message), session_scope(factory) as session:
        yield session


def _seed(factory: sessionmaker[Session]) -> None:
    with session_scope(factory) as session:
        repo.add_exchange(session, "binance", "binance", watch_params={"name": "ticker"})
        repo.add_symbols(session, "binance", ["ETH/USDT", "BTC/USDT", "SOL/USDT"])
        repo.add_exchange(session, "kraken", "kraken", mode="poll", poll_interval_s=5)
        repo.add_symbols(session, "kraken", ["BTC/USD"])
        repo.add_exchange(session, "okx", "okx", enabled=False)
        repo.add_symbols(session, "okx", ["BTC/USDT"])


def test_load_enabled_returns_enabled_exchanges_with_their_enabled_symbols_sorted(
    factory: sessionmaker[Session],
) -> None:
    _seed(factory)
    with session_scope(factory) as session:
        repo.set_symbols_enabled(session, "binance", ["SOL/USDT"], False)
    with session_scope(factory) as session:
        snapshots = list(repo.load_enabled(session))
    assert snapshots == [
        ExchangeSnapshot(
            "binance", "binance", watch_params={"name": "ticker"}, symbols=("BTC/USDT", "ETH/USDT")
        ),
        ExchangeSnapshot(
            "kraken", "kraken", mode="poll", poll_interval_s=5.0, symbols=("BTC/USD",)
        ),
    ]


def test_load_enabled_includes_an_enabled_exchange_without_symbols(
    factory: sessionmaker[Session],
) -> None:
    with session_scope(factory) as session:
        repo.add_exchange(session, "empty", "binance")
    with session_scope(factory) as session:
        assert repo.load_enabled(session).exchanges == (ExchangeSnapshot("empty", "binance"),)


def test_load_enabled_runs_two_queries_however_many_exchanges(
    engine: sa.Engine, factory: sessionmaker[Session]
) -> None:
    with session_scope(factory) as session:
        for n in range(20):
            repo.add_exchange(session, f"ex{n}", "binance")
            repo.add_symbols(session, f"ex{n}", [f"C{i}/USDT" for i in range(30)])
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with session_scope(factory) as session:
        snapshots = repo.load_enabled(session)
    assert len(snapshots) == 20 and all(len(s.symbols) == 30 for s in snapshots)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 2


def test_list_exchanges_counts_enabled_and_all_symbols(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with session_scope(factory) as session:
        repo.set_symbols_enabled(session, "binance", ["ETH/USDT"], False)
        rows = repo.list_exchanges(session)
    summary = [(r.name, r.enabled, r.symbols_enabled, r.symbols_total) for r in rows]
    assert summary == [("binance", True, 2, 3), ("kraken", True, 1, 1), ("okx", False, 1, 1)]


def test_a_duplicate_exchange_name_is_a_validation_error(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with refused(factory, "an exchange named 'binance' already exists") as session:
        repo.add_exchange(session, "binance", "binance")


def test_adding_an_existing_symbol_writes_none_of_the_batch(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with refused(factory, "exchange 'binance' already has BTC/USDT") as session:
        repo.add_symbols(session, "binance", ["XRP/USDT", "BTC/USDT"])
    with session_scope(factory) as session:
        symbols = [r.symbol for r in repo.list_symbols(session, "binance")]
    assert symbols == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def test_repeated_symbols_on_one_command_are_added_once(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with session_scope(factory) as session:
        assert repo.add_symbols(session, "kraken", ["ETH/USD", "ETH/USD"]) == ["ETH/USD"]


def test_symbols_of_an_unknown_exchange_are_refused_with_a_suggestion(
    factory: sessionmaker[Session],
) -> None:
    _seed(factory)
    with refused(factory, "no exchange named 'krakn': did you mean kraken") as session:
        repo.add_symbols(session, "krakn", ["BTC/USD"])


def test_removing_an_exchange_removes_its_symbols(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with session_scope(factory) as session:
        assert repo.remove_exchange(session, "binance") == 3
    with session_scope(factory) as session:
        assert {r.exchange for r in repo.list_symbols(session)} == {"kraken", "okx"}
        assert session.scalar(sa.text("SELECT count(*) FROM symbols")) == 2


def test_removing_an_absent_symbol_removes_nothing(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with refused(factory, "exchange 'binance' has no symbol XRP/USDT") as session:
        repo.remove_symbols(session, "binance", ["BTC/USDT", "XRP/USDT"])
    with session_scope(factory) as session:
        assert len(repo.list_symbols(session, "binance")) == 3


def test_enable_and_disable_report_only_what_changed(factory: sessionmaker[Session]) -> None:
    _seed(factory)
    with session_scope(factory) as session:
        assert repo.set_exchange_enabled(session, "okx", True) is True
        assert repo.set_exchange_enabled(session, "okx", True) is False
        assert repo.set_symbols_enabled(session, "binance", ["BTC/USDT"], False) == ["BTC/USDT"]
        assert repo.set_symbols_enabled(session, "binance", ["BTC/USDT", "ETH/USDT"], False) == [
            "ETH/USDT"
        ]
        assert repo.load_enabled(session).exchanges[0].symbols == ("SOL/USDT",)


def test_a_database_error_inside_a_scope_is_translated_and_rolled_back(
    factory: sessionmaker[Session],
) -> None:
    with (
        pytest.raises(DatabaseError, match="testing failed on"),
        session_scope(factory, action="testing") as session,
    ):
        repo.add_exchange(session, "binance", "binance")
        session.execute(sa.text("SELECT * FROM no_such_table"))
    with session_scope(factory) as session:
        assert repo.list_exchanges(session) == []


def test_migrated_session_refuses_an_unmigrated_database(sqlite_url: str) -> None:
    with (
        pytest.raises(DatabaseError, match=r"no ticker-service tables: run `ticker-service db"),
        migrated_session(sqlite_url),
    ):
        pass


def test_a_row_the_beat_cannot_read_is_listed_with_its_problem_and_can_be_disabled_or_removed(
    database_url: str, factory: sessionmaker[Session]
) -> None:
    from tests.test_db_bad_rows import run_sql

    _seed(factory)
    # JSON of the wrong type: Postgres stores it too (text that is not JSON only SQLite takes).
    run_sql(
        database_url,
        "INSERT INTO exchanges (name, ccxt_id, ccxt_params) VALUES ('bad', 'okx', '[1]')",
    )
    with session_scope(factory) as session:
        listed = {row.name: row for row in repo.list_exchanges(session)}
    assert listed["bad"].problem == "ccxt_params must be a JSON object ({} for none), not a list"
    assert listed["bad"].enabled is True and listed["bad"].ccxt_params == {}
    assert listed["binance"].problem is None and listed["binance"].watch_params == {
        "name": "ticker"
    }
    with session_scope(factory) as session:
        assert repo.set_exchange_enabled(session, "bad", False) is True
        repo.add_symbols(session, "bad", ["BTC/USDT"])
    with session_scope(factory) as session:
        assert [s.name for s in repo.load_enabled(session)] == ["binance", "kraken"]
        assert repo.load_enabled(session).skipped == ()  # a disabled row is not reported
        assert repo.remove_exchange(session, "bad") == 1
    with session_scope(factory) as session:
        assert "bad" not in {row.name for row in repo.list_exchanges(session)}
