"""drift episodes: how long each (channel, SKU, location) differed from the warehouse (decision 0025)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift_episodes",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("shown", sa.BigInteger(), nullable=False),
        sa.Column("pushed", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("max_units", sa.BigInteger(), nullable=False),
        sa.Column("repairs", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("drift_episodes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_drift_episodes_key", ["channel", "cleared_at", "sku", "location"], unique=False
        )
        batch_op.create_index("ix_drift_episodes_first_seen", ["first_seen"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("drift_episodes", schema=None) as batch_op:
        batch_op.drop_index("ix_drift_episodes_first_seen")
        batch_op.drop_index("ix_drift_episodes_key")
    op.drop_table("drift_episodes")
