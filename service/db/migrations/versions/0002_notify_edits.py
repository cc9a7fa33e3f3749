"""Postgres: notify the beat (LISTEN/NOTIFY) when exchanges or symbols change.

A statement-level trigger on each table calls ``pg_notify('ticker_service_edits',
'{"schema": ..., "table": ..., "op": ...}')``, so an edit made with plain SQL
is applied within a second or two instead of at the next reconcile. SQLite has
no LISTEN/NOTIFY: there this revision does nothing (edits made through the CLI
wake the beat through Redis; plain-SQL edits wait for the next reconcile).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Literals on purpose: a migration must not change when live code does.
# service.beat.pg_listen.EDITS_CHANNEL is the same channel.
CHANNEL = "ticker_service_edits"
FUNCTION = "ticker_notify_edit"
TABLES = ("exchanges", "symbols")

CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        '{CHANNEL}',
        json_build_object('schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'op', TG_OP)::text
    );
    RETURN NULL;
END
$$
"""


def _trigger(table: str) -> str:
    return f"{table}_notify_edit"


def _on_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    if not _on_postgres():
        return
    op.execute(CREATE_FUNCTION)
    for table in TABLES:
        # EXECUTE PROCEDURE: still accepted by Postgres 11+, and the only form before.
        op.execute(
            f"CREATE TRIGGER {_trigger(table)} "
            f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE PROCEDURE {FUNCTION}()"
        )


def downgrade() -> None:
    if not _on_postgres():
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {_trigger(table)} ON {table}")
    op.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")
