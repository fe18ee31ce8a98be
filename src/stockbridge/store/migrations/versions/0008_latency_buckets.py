"""latency buckets: the movement → acknowledged histogram per channel, as counts that only grow

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Samples recorded before this table existed are not counted: the histogram starts now (its
    # counters start at zero, which Prometheus reads as a fresh series).
    op.create_table(
        "latency_buckets",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("le_ms", sa.String(length=16), nullable=False),
        sa.Column("samples", sa.BigInteger(), nullable=False),
        sa.Column("sum_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "le_ms"),
    )


def downgrade() -> None:
    op.drop_table("latency_buckets")
