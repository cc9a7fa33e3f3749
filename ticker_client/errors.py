"""One exception tree for everything the client raises; Redis errors are translated here.

``ClientError`` is the root (itself a ``service.errors.TickerServiceError``, so
one ``except`` catches the service's errors and the client's alike)::

    ClientError
    ├── NotFound          no tick stored for what was asked (also a LookupError)
    ├── ConnectionLost    Redis does not answer, or the connection dropped
    ├── BadData           a stored value that does not decode (also a ValueError)
    ├── InvalidArgument   bad input or configuration, named (also a ValueError)
    └── HistoryUnavailable        the history database cannot be read (unreachable,
        │                         not migrated, failed mid-read); the message says why
        └── HistoryNotConfigured  no database URL given, or SQLAlchemy (the server
                                  package's dependency, imported only for history) missing
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from service.errors import TickerServiceError


class ClientError(TickerServiceError):
    """Root of every error the client raises."""


class NotFound(ClientError, LookupError):
    """Nothing stored for the exchange, pair or symbol asked for."""


class ConnectionLost(ClientError):
    """Redis could not be reached, or the connection dropped mid-call."""


class BadData(ClientError, ValueError):
    """A stored value the client cannot decode (written by something else?)."""


class InvalidArgument(ClientError, ValueError):
    """An argument or a setting the client cannot use; the message names it."""


class HistoryUnavailable(ClientError):
    """Candles, trades or coverage could not be read from the database; the message says why."""


class HistoryNotConfigured(HistoryUnavailable):
    """History was asked for without a database URL, or without SQLAlchemy installed."""


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Run a Redis call, raising ``ConnectionLost``/``ClientError`` naming ``action``."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise ConnectionLost(f"{action}: {exc}") from exc
    except redis.RedisError as exc:
        raise ClientError(f"{action}: {exc}") from exc
