"""SQLAlchemy errors become ``DatabaseError`` here, with context and without secrets."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from service.errors import DatabaseError
from service.logs import redact_text
from service.settings import redact_url


def database_error(exc: SQLAlchemyError, url: str, action: str) -> DatabaseError:
    """A DatabaseError naming the action and the (redacted) URL, with the driver's first line."""
    # str(DBAPIError) carries the SQL and its parameters: keep only the driver's own message.
    detail = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
    first_line = (
        redact_text(detail.strip().splitlines()[0]) if detail.strip() else type(exc).__name__
    )
    return DatabaseError(f"{action} failed on {redact_url(url)}: {first_line}")
