"""Create the exchanges and symbols tables.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# sa.JSON is json on Postgres and text-backed JSON on SQLite: the same rows work on both.
EMPTY_JSON = sa.text("'{}'")


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ccxt_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("ccxt_params", sa.JSON(), server_default=EMPTY_JSON, nullable=False),
        sa.Column("mode", sa.String(length=8), server_default="auto", nullable=False),
        sa.Column("poll_interval_s", sa.Float(), server_default=sa.text("2"), nullable=False),
        sa.Column("watch_params", sa.JSON(), server_default=EMPTY_JSON, nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchanges")),
        sa.UniqueConstraint("name", name=op.f("uq_exchanges_name")),
    )
    op.create_table(
        "symbols",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(
            ["exchange_id"],
            ["exchanges.id"],
            name=op.f("fk_symbols_exchange_id_exchanges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_symbols")),
        # Its leading column also serves the exchange_id lookups of load_enabled.
        sa.UniqueConstraint("exchange_id", "symbol", name="uq_symbols_exchange_symbol"),
    )


def downgrade() -> None:
    op.drop_table("symbols")
    op.drop_table("exchanges")
