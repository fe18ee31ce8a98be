"""the product master sync's working list: one run's IMS items and the warehouse SKUs they become

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"

down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The product sync held both item lists whole (a million IMS items took the hub past 800 MB):
    # it now writes each page of the IMS list here and finds collisions and puts in SQL (decision 0044).
    op.create_table(
        "product_sync_items",
        sa.Column("run", sa.String(length=32), nullable=False),
        sa.Column("ims_sku", sa.String(length=100), nullable=False),
        sa.Column("wms_sku", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("collided", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run", "ims_sku"),
    )
    op.create_index("ix_product_sync_items_wms_sku", "product_sync_items", ["run", "wms_sku"])


def downgrade() -> None:
    op.drop_index("ix_product_sync_items_wms_sku", table_name="product_sync_items")
    op.drop_table("product_sync_items")
