"""finance batches: financial movements held back from the IMS until their daily batch posts

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "financial_movements",
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("financial_movements", schema=None) as batch_op:
        batch_op.create_index("ix_financial_movements_pair", ["sku", "warehouse_id"], unique=False)
        batch_op.create_index("ix_financial_movements_open", ["batch_id", "business_date"], unique=False)
    op.create_table(
        "finance_batches",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("business_date", sa.String(length=10), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("control_units", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("finance_batches", schema=None) as batch_op:
        batch_op.create_index("ix_finance_batches_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_finance_batches_day", ["location", "business_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finance_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_finance_batches_day")
        batch_op.drop_index("ix_finance_batches_due")
    op.drop_table("finance_batches")
    with op.batch_alter_table("financial_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_financial_movements_open")
        batch_op.drop_index("ix_financial_movements_pair")
    op.drop_table("financial_movements")
