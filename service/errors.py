"""One exception tree for the whole service; driver errors are translated at the boundary."""

from __future__ import annotations


class TickerServiceError(Exception):
    """Root of every error this service raises on purpose."""


class ConfigError(TickerServiceError):
    """A setting (environment variable) has a value we cannot use."""


class StoreError(TickerServiceError):
    """Redis could not be read or written."""


class DatabaseError(TickerServiceError):
    """The database could not be read or written."""


class ValidationError(TickerServiceError):
    """Operator input (a CLI argument, a database row) is malformed."""
