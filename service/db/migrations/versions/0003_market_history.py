"""Market history: what each symbol collects, the candles and trades tables, the ledger.

``symbols`` gains ``trades`` and ``candles`` (false: existing rows keep
streaming tickers only) and ``history_since`` (UTC epoch ms, NULL for the
default). ``candles`` and ``trades`` hold the rows, ``history_ledger`` which
ranges of each stream are complete and which are gaps, and why. On Postgres
``trades`` is range-partitioned by month on ``time``: the store creates the
partitions as rows need them (``service.history.partitions``), so this
revision creates none, and retention drops whole partitions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _pair() -> list[sa.Column]:
    return [
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=64), nullable=False),
    ]


def _create_candles() -> None:
    op.create_table(
        "candles",
        *_pair(),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("open_time", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("open", "high", "low")),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("close", "volume")),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint(
            "exchange", "symbol", "timeframe", "open_time", name=op.f("pk_candles")
        ),
    )


def _create_trades() -> None:
    op.create_table(
        "trades",
        *_pair(),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("exchange", "symbol", "time", "trade_id", name=op.f("pk_trades")),
        postgresql_partition_by="RANGE (time)",
    )


def _create_ledger() -> None:
    op.create_table(
        "history_ledger",
        *_pair(),
        sa.Column("stream", sa.String(length=16), nullable=False),
        sa.Column("timeframe", sa.String(length=8), nullable=False),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "exchange", "symbol", "stream", "timeframe", "start_ms", name=op.f("pk_history_ledger")
        ),
    )


def upgrade() -> None:
    with op.batch_alter_table("symbols") as batch:
        for flag in ("trades", "candles"):
            column: sa.Column[bool] = sa.Column(
                flag, sa.Boolean(), server_default=sa.false(), nullable=False
            )
            batch.add_column(column)
        batch.add_column(sa.Column("history_since", sa.BigInteger(), nullable=True))
    _create_candles()
    _create_trades()
    _create_ledger()


def downgrade() -> None:
    op.drop_table("history_ledger")
    op.drop_table("trades")  # its partitions go with it on Postgres
    op.drop_table("candles")
    with op.batch_alter_table("symbols") as batch:
        batch.drop_column("history_since")
        batch.drop_column("candles")
        batch.drop_column("trades")
