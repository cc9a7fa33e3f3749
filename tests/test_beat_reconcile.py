"""Reconcile against a real database (SQLite and Postgres) and a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import delete, update

from service.beat.reconcile import ReconcileOptions, reconcile
from service.beat.source import DatabaseSource
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import Base, Exchange, Symbol
from service.desired import DesiredState
from service.errors import DatabaseError
from service.keys import Keys


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, job_key: str) -> None:
        self.calls.append(job_key)


# The row validators are the database's own, ReconcileOptions' default.
OPTIONS = ReconcileOptions(shard_size=3, allow=None, pending_ttl_s=60)


class Db:
    """The test's database: tables created directly, rows written through the models."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        self.sessions = make_sessionmaker(self.engine)

    def add(self, name: str, *symbols: str, ccxt_id: str = "binance") -> None:
        with self.sessions.begin() as session:
            exchange = Exchange(name=name, ccxt_id=ccxt_id, ccxt_params={}, watch_params={})
            exchange.symbols = [Symbol(symbol=s) for s in symbols]
            session.add(exchange)

    def execute(self, statement) -> None:  # type: ignore[no-untyped-def]
        with self.sessions.begin() as session:
            session.execute(statement)


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    database = Db(database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def source(database_url: str) -> Iterator[DatabaseSource]:
    loader = DatabaseSource(database_url)
    yield loader
    loader.close()


@pytest.fixture
def desired(redis_client: redis.Redis, keys: Keys) -> DesiredState:
    return DesiredState(redis_client, keys)


def test_a_new_exchange_becomes_desired_and_is_enqueued_once(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", "ETH/USDT", "BTC/USDT")
    enqueue = Recorder()
    done = reconcile(source, desired, enqueue, OPTIONS)
    assert desired.all()["bin"].symbols == ("BTC/USDT", "ETH/USDT")
    assert enqueue.calls == ["bin"] and done.plan.jobs == 1


def test_reconciling_twice_sends_no_second_message_and_no_new_generation(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", "BTC/USDT")
    enqueue = Recorder()
    reconcile(source, desired, enqueue, OPTIONS)
    first = desired.get("bin")
    second = reconcile(source, desired, enqueue, OPTIONS)
    assert enqueue.calls == ["bin"]
    assert second.plan.empty and desired.get("bin") == first


def test_a_job_with_a_live_lease_is_not_enqueued(
    db: Db, source: DatabaseSource, desired: DesiredState, redis_client: redis.Redis, keys: Keys
) -> None:
    db.add("bin", "BTC/USDT")
    redis_client.set(keys.lease("bin"), "a-running-job", px=15_000)
    enqueue = Recorder()
    reconcile(source, desired, enqueue, OPTIONS)
    assert enqueue.calls == []
    assert desired.get("bin") is not None


def test_a_removed_or_disabled_exchange_leaves_the_desired_state(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", "BTC/USDT")
    db.add("okx", "BTC/USDT", ccxt_id="okx")
    reconcile(source, desired, Recorder(), OPTIONS)
    db.execute(delete(Exchange).where(Exchange.name == "bin"))
    db.execute(update(Exchange).where(Exchange.name == "okx").values(enabled=False))
    done = reconcile(source, desired, Recorder(), OPTIONS)
    assert desired.all() == {}
    assert done.plan.remove == ("bin", "okx")


def test_a_symbol_change_bumps_the_generation_without_a_new_message(
    db: Db, source: DatabaseSource, desired: DesiredState, redis_client: redis.Redis, keys: Keys
) -> None:
    db.add("bin", "BTC/USDT", "ETH/USDT")
    enqueue = Recorder()
    reconcile(source, desired, enqueue, OPTIONS)
    before = desired.get("bin")
    redis_client.set(keys.lease("bin"), "running", px=15_000)  # the job now streams
    db.execute(update(Symbol).where(Symbol.symbol == "ETH/USDT").values(enabled=False))
    reconcile(source, desired, enqueue, OPTIONS)
    after = desired.get("bin")
    assert before is not None and after is not None
    assert after.symbols == ("BTC/USDT",) and after.generation > before.generation
    assert enqueue.calls == ["bin"]


def test_an_exchange_whose_symbols_are_all_disabled_gets_no_job(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", "BTC/USDT")
    reconcile(source, desired, Recorder(), OPTIONS)
    db.execute(update(Symbol).values(enabled=False))
    done = reconcile(source, desired, Recorder(), OPTIONS)
    assert desired.all() == {} and done.plan.remove == ("bin",)


def test_bad_rows_are_skipped_and_reported_while_the_rest_is_reconciled(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", "BTC/USDT", "btc-usdt")
    db.add("nope", "BTC/USDT", ccxt_id="no-such-exchange")
    done = reconcile(source, desired, Recorder(), OPTIONS)
    assert list(desired.all()) == ["bin"]
    assert desired.all()["bin"].symbols == ("BTC/USDT",)
    named = [(row.table, row.exchange, row.name, row.column) for row in done.plan.skipped]
    assert named == [
        ("symbols", "bin", "btc-usdt", "symbol"),
        ("exchanges", "nope", "nope", "ccxt_id"),
    ]
    assert "unknown ccxt exchange id" in done.plan.skipped[1].error


def test_a_large_exchange_is_sharded_in_the_desired_state(
    db: Db, source: DatabaseSource, desired: DesiredState
) -> None:
    db.add("bin", *[f"C{i}/USDT" for i in range(7)])
    enqueue = Recorder()
    reconcile(source, desired, enqueue, OPTIONS)
    assert sorted(desired.all()) == ["bin#0", "bin#1", "bin#2"]
    assert sorted(enqueue.calls) == ["bin#0", "bin#1", "bin#2"]


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:s3cret@127.0.0.1:1/x", "sqlite:////nonexistent-dir/deeper/x.db"],
    ids=["postgres down", "sqlite path gone"],
)
def test_an_unreachable_database_leaves_the_desired_state_untouched(
    url: str, desired: DesiredState
) -> None:
    from workers.spec import JobSpec

    kept = desired.put(JobSpec("bin", "bin", "binance", ("BTC/USDT",)))
    loader = DatabaseSource(url)
    enqueue = Recorder()
    with pytest.raises(DatabaseError) as raised:
        reconcile(loader, desired, enqueue, OPTIONS)
    loader.close()
    assert desired.all() == {"bin": kept} and enqueue.calls == []
    assert "s3cret" not in str(raised.value)
