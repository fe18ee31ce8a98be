"""shared rate budgets: each far account's token bucket and each Shopify store's cost bucket

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"

down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: each budget's row is made by the first grant, at full speed and a full bucket.
    op.create_table(
        "rate_budgets",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("stamp", sa.Float(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.Column("last_cut", sa.Float(), nullable=True),
        sa.Column("refusals", sa.BigInteger(), nullable=False),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "cost_buckets",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("available", sa.Float(), nullable=False),
        sa.Column("restore_rate", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Float(), nullable=False),
        sa.Column("in_flight", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("cost_buckets")
    op.drop_table("rate_budgets")
