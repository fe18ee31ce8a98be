"""sales velocity: each folded sale kept for the window, and each SKU's velocity class

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"

down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Sales folded before this table existed are not counted: velocities start from now, and every
    # SKU is below every class until a window's sales are in.
    op.create_table(
        "sales",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_sales_occurred", "sales", ["occurred_at"])
    op.create_table(
        "velocity_classes",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("velocity_class", sa.String(length=32), nullable=True),
        sa.Column("units_sold", sa.BigInteger(), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )


def downgrade() -> None:
    op.drop_table("velocity_classes")
    op.drop_index("ix_sales_occurred", table_name="sales")
    op.drop_table("sales")
