"""Where the beat reads exchanges from: the database, through the repository.

Kept apart from ``reconcile`` so the plan and its apply step can be tested
with any loader, and so the SQLAlchemy engine lives in one place.
"""

from __future__ import annotations

from service.db.engine import make_engine, make_sessionmaker
from service.db.repo import load_enabled
from service.db.session import session_scope
from service.db.snapshot import ExchangeSnapshot, LoadedRows, check_exchange
from service.db.validation import validate_symbol

__all__ = ["DatabaseSource", "check_exchange_row", "validate_symbol"]


class DatabaseSource:
    """Loads the enabled exchanges; one engine (pool) for the beat's lifetime."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self.sessions = make_sessionmaker(self.engine)

    def __call__(self) -> LoadedRows:
        """Every enabled exchange with its enabled symbols, and the rows that could not be read.

        One bad row never fails the read (it is in ``skipped``). Raises
        DatabaseError (redacted) when the database itself fails.
        """
        with session_scope(self.sessions, action="reading enabled exchanges") as session:
            return load_enabled(session)

    def close(self) -> None:
        self.engine.dispose()


def check_exchange_row(row: ExchangeSnapshot) -> None:
    """The repository's checks of an exchange row (symbols aside). Raises ValidationError."""
    check_exchange(row)
