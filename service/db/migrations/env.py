"""Alembic environment: built in code by ``service.db.migrate``, never from an alembic.ini.

The caller either hands over an open connection (``config.attributes["connection"]``)
or sets ``sqlalchemy.url``. SQLite runs in batch mode, because it cannot alter
most of a table in place.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from service.db.engine import driver_url
from service.db.models import Base

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL (``--sql``) instead of running it."""
    url = context.config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=bool(url and url.startswith("sqlite")),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "service.db.migrate sets sqlalchemy.url"
    # NullPool and no SQLite foreign-key pragma: a batch rebuild of a parent
    # table must not cascade-delete its children.
    engine = create_engine(driver_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
