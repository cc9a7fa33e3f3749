"""exchanges.requests_per_minute: an exchange's REST request budget for history tasks.

NULL (every existing row) means "from ccxt's rateLimit". Set with
``ticker-service exchanges add|set NAME --requests-per-minute N``.

Revision ID: 0004
Revises: 0003 (the market history tables, issue 13)
Create Date: 2026-12-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"  # the STORE helper's 0003_market_history
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:  # SQLite needs a batch to alter
        batch.add_column(sa.Column("requests_per_minute", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_column("requests_per_minute")
