"""Shared fixtures: a real Redis, a real SQLite and a real Postgres; simulators.

Servers are found through ``TEST_REDIS_URL``/``REDIS_URL`` and
``TEST_DATABASE_URL``. A missing server skips its tests locally and fails
them when ``CI=true``. Each test gets its own Redis key prefix and its own
Postgres schema, and removes them afterwards. Simulator tests run once per
protocol the simulator speaks (``protocol``), as Dramatiq's own suite runs once
per broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import redis
import sqlalchemy

import service.logs
from service.db.engine import driver_url
from service.keys import Keys
from service.simulator.testing import SimulatorThread
from tests.sim_helpers import PROTOCOLS, Protocol

# CLI commands run in-process configure logging too: never with cached loggers,
# so structlog.testing.capture_logs sees every module's events in any test order.
service.logs.CACHE_LOGGERS = False

DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _missing(what: str, detail: str) -> None:
    message = f"{what} is not answering ({detail})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + ": CI must provide it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_TEST_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _missing("Redis", f"{url}: {exc}")
    return url


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    # driver_url: SQLAlchemy 2.1 would pick psycopg 3 for a bare postgresql://.
    url = driver_url(os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL))
    try:
        engine = sqlalchemy.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        _missing("Postgres", f"{url}: {exc.__class__.__name__}")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A URL whose connections live in a fresh schema of their own."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in postgres_server_url else "?"
    yield f"{postgres_server_url}{separator}options={quote(f'-csearch_path={schema}')}"
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'ticker-test.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on Postgres."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(params=PROTOCOLS, ids=str)
def protocol(request: pytest.FixtureRequest) -> Protocol:
    """Runs a test once per simulator protocol (binance, okx)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def simulator(protocol: Protocol) -> Iterator[SimulatorThread]:
    """A simulator of ``protocol`` in a background thread: 25 symbols at 20 events/s."""
    with SimulatorThread(protocol.name, symbols=25, rate=20, seed=protocol.seed) as running:
        yield running


@pytest.fixture
async def exchange(simulator: SimulatorThread) -> AsyncIterator[Any]:
    """A ccxt.pro client of ``simulator``, closed after the test."""
    async with simulator.exchange() as client:
        yield client


# Tests that start worker, beat, web or benchmark processes and time what they see run
# one after another in one xdist worker (``--dist loadgroup``), beside the rest.
SERIAL_GROUP = "processes"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("e2e") or item.path.name == "test_bench_smoke.py":
            item.add_marker(pytest.mark.xdist_group(SERIAL_GROUP))
