"""Alembic, configured in code: migrations ship inside the package, no alembic.ini needed.

``ticker-service db upgrade`` therefore works from an installed package in any
directory. ``ensure_current`` is the guard every other database command runs
first, so an unmigrated database says what to do instead of showing a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.db.engine import make_engine
from service.db.translate import database_error
from service.errors import DatabaseError
from service.settings import redact_url

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
UPGRADE_HINT = "run `ticker-service db upgrade` first"


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` pointing at the packaged migrations and at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # The config is a ConfigParser: a literal % (URL-encoded options) must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``; raises DatabaseError."""
    _run(url, "upgrade", lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base``: drop everything)."""
    _run(url, "downgrade", lambda config: command.downgrade(config, revision))


def _run(url: str, action: str, step) -> None:  # type: ignore[no-untyped-def]
    try:
        step(alembic_config(url))
    except SQLAlchemyError as exc:
        raise database_error(exc, url, f"db {action}") from exc
    except CommandError as exc:  # e.g. an unknown revision
        raise DatabaseError(f"db {action} failed on {redact_url(url)}: {exc}") from None


def current_revision(engine: Engine) -> str | None:
    """The database's revision, or None when it was never migrated; raises DatabaseError."""
    try:
        with engine.connect() as connection, _quiet_alembic():
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise database_error(exc, engine.url.render_as_string(), "reading the revision") from exc


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    # Alembic logs its dialect at INFO on every context: noise for a mere revision check.
    logger = logging.getLogger("alembic.runtime.migration")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def ensure_current(engine: Engine) -> None:
    """Raise DatabaseError (saying what to run) unless the database is at the head revision."""
    revision = current_revision(engine)
    where = engine.url.render_as_string()  # password hidden
    if revision is None:
        raise DatabaseError(f"the database {where} has no ticker-service tables: {UPGRADE_HINT}")
    head = head_revision()
    if revision != head:
        raise DatabaseError(
            f"the database {where} is at revision {revision}, this ticker-service needs {head}: "
            f"{UPGRADE_HINT} (or upgrade ticker-service if the database is newer)"
        )


def revision_at(url: str) -> str | None:
    """The revision of the database at ``url`` (None: never migrated); raises DatabaseError."""
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()
