"""Edits made with plain SQL on Postgres: LISTEN for the notices of migration 0002's trigger.

The trigger runs ``pg_notify(EDITS_CHANNEL, payload)`` once per statement that
inserts, updates, deletes or truncates ``exchanges`` or ``symbols``; the
payload is ``{"schema": ..., "table": ..., "op": ...}``. Postgres channels are
database-wide, so a notice from another schema (another deployment sharing
the database) is ignored. Notices are delivered on commit, so a reconcile that
starts after one sees the edit.
"""

from __future__ import annotations

import json
import select
from typing import Any

import psycopg2
import psycopg2.extensions
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine import make_url

from service.db.engine import driver_url
from service.logs import get_logger

log = get_logger(__name__)

# The same literals are in migration 0002 (migrations never import live code).
EDITS_CHANNEL = "ticker_service_edits"
TRIGGER_FUNCTION = "ticker_notify_edit"
CONNECT_TIMEOUT_S = 5
# TCP keepalives find a server that vanished without closing the socket.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5}
# A query this often proves the idle connection is still alive.
PING_EVERY_S = 15.0


def is_postgres(url: str) -> bool:
    """True for a Postgres URL (``postgres://`` included)."""
    return make_url(driver_url(url)).get_backend_name() == "postgresql"


def connect_kwargs(url: str) -> dict[str, Any]:
    """psycopg2.connect keyword arguments for ``url``, as SQLAlchemy would pass them."""
    _, kwargs = PGDialect_psycopg2().create_connect_args(make_url(driver_url(url)))
    return {**kwargs, "connect_timeout": CONNECT_TIMEOUT_S, **KEEPALIVES}


class PostgresEdits:
    """A dedicated autocommit connection that LISTENs on ``EDITS_CHANNEL``."""

    name = "postgres"

    def __init__(self, url: str) -> None:
        self.kwargs = connect_kwargs(url)
        self.warned = False

    def connect(self) -> _PostgresListening:
        connection = psycopg2.connect(**self.kwargs)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT current_schema(), to_regproc('{TRIGGER_FUNCTION}')")
                schema, function = cursor.fetchone() or ("public", None)
                cursor.execute(f"LISTEN {EDITS_CHANNEL}")
        except BaseException:
            connection.close()
            raise
        if function is None and not self.warned:
            self.warned = True
            log.warning(
                "postgres edit trigger missing",
                effect="plain-SQL edits wait for the next reconcile",
                fix="run `ticker-service db upgrade`",
            )
        return _PostgresListening(connection, str(schema))


class _PostgresListening:
    def __init__(self, connection: psycopg2.extensions.connection, schema: str) -> None:
        self.connection = connection
        self.schema = schema
        self.idle_s = 0.0

    def poll(self, timeout_s: float) -> list[str]:
        """Notices of this schema's tables; raises psycopg2.Error when the server is gone."""
        readable, _, _ = select.select([self.connection], [], [], timeout_s)
        if not readable:
            self.idle_s += timeout_s
            if self.idle_s >= PING_EVERY_S:
                self._ping()
            return []
        self.idle_s = 0.0
        self.connection.poll()  # raises OperationalError when the server closed the link
        notices = list(self.connection.notifies)
        self.connection.notifies.clear()
        return [reason for n in notices if (reason := self._reason(n.payload)) is not None]

    def _ping(self) -> None:
        self.idle_s = 0.0
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def _reason(self, payload: str) -> str | None:
        """``"INSERT symbols"`` for a notice of our schema, None for another schema's."""
        try:
            notice = json.loads(payload)
            schema, table, op = notice["schema"], notice["table"], notice["op"]
        except (ValueError, TypeError, KeyError):
            return "postgres edit"  # unknown shape: a reconcile too many is harmless
        if schema != self.schema:
            return None
        return f"{op} {table}".lower()

    def close(self) -> None:
        self.connection.close()
