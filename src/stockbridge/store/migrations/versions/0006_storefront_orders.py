"""storefront orders: a channel per order, wider order ids, the IMS route's orders and commands

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales_orders") as batch:
        batch.alter_column("ims_id", existing_type=sa.String(32), type_=sa.String(120))
        batch.add_column(sa.Column("channel", sa.String(32), nullable=False, server_default="ims"))
    with op.batch_alter_table("order_commands") as batch:
        batch.alter_column("ims_id", existing_type=sa.String(32), type_=sa.String(120))
    op.create_table(
        "storefront_orders",
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("storefront_order", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("holds", sa.JSON(), nullable=False),
        sa.Column("ims_id", sa.String(32), nullable=True),
        sa.Column("ims_lines", sa.JSON(), nullable=False),
        sa.Column("synced_version", sa.String(80), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "order_id"),
    )
    op.create_table(
        "storefront_order_commands",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(120), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_storefront_order_commands_due", "storefront_order_commands", ["state", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_storefront_order_commands_due", table_name="storefront_order_commands")
    op.drop_table("storefront_order_commands")
    op.drop_table("storefront_orders")
    with op.batch_alter_table("order_commands") as batch:
        batch.alter_column("ims_id", existing_type=sa.String(120), type_=sa.String(32))
    with op.batch_alter_table("sales_orders") as batch:
        batch.drop_column("channel")
        batch.alter_column("ims_id", existing_type=sa.String(120), type_=sa.String(32))
