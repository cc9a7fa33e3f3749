"""Sessions with one transaction each, and SQLAlchemy errors translated at the edge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from service.db.engine import make_engine, make_sessionmaker
from service.db.migrate import ensure_current
from service.db.translate import database_error


@contextmanager
def session_scope(factory: sessionmaker[Session], *, action: str = "database") -> Iterator[Session]:
    """Yield a session; commit when the block ends, roll back if it raises.

    Raises DatabaseError (naming ``action`` and the redacted URL) for any
    SQLAlchemy error; ``ValidationError`` and other errors pass through after
    the rollback.
    """
    session = factory()
    try:
        yield session
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        url = session.get_bind().engine.url.render_as_string()
        raise database_error(exc, url, action) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def migrated_session(url: str, *, action: str = "database") -> Iterator[Session]:
    """One short-lived engine and transaction on ``url``, for one CLI command.

    Raises DatabaseError telling the operator to run ``ticker-service db upgrade``
    when the database is not at the head revision.
    """
    engine = make_engine(url)
    try:
        ensure_current(engine)
        with session_scope(make_sessionmaker(engine), action=action) as session:
            yield session
    finally:
        engine.dispose()
