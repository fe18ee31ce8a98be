"""orders

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 04:16:04.070316
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "kit_members",
        sa.Column("kit_sku", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("member_sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kit_sku", "position"),
    )
    op.create_table(
        "order_commands",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("ims_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_commands", schema=None) as batch_op:
        batch_op.create_index("ix_order_commands_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "sales_orders",
        sa.Column("ims_id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("ims_version", sa.String(length=80), nullable=False),
        sa.Column("ims_order", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("holds", sa.JSON(), nullable=False),
        sa.Column("sent", sa.JSON(), nullable=True),
        sa.Column("wms_status", sa.String(length=32), nullable=True),
        sa.Column("wms_sequence", sa.BigInteger(), nullable=True),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ims_id"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.create_index("ix_sales_orders_state", ["state", "state_since"], unique=False)

    op.create_table(
        "wms_items",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source_sku", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    with op.batch_alter_table("ims_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("item_type", sa.String(length=16), server_default="InvtPart", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("ims_items", schema=None) as batch_op:
        batch_op.drop_column("item_type")

    op.drop_table("wms_items")
    with op.batch_alter_table("sales_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_sales_orders_state")

    op.drop_table("sales_orders")
    with op.batch_alter_table("order_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_order_commands_due")

    op.drop_table("order_commands")
    op.drop_table("kit_members")
