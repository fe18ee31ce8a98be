"""fulfilment

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:41:47.763126
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "fulfilment_commands",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("shipment_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shipment_id", "kind", name="uq_fulfilment_commands_shipment_kind"),
    )
    with op.batch_alter_table("fulfilment_commands", schema=None) as batch_op:
        batch_op.create_index("ix_fulfilment_commands_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("fulfil_lines", sa.JSON(), nullable=True),
        sa.Column("state_since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id"),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index("ix_shipments_reference", ["reference", "sequence"], unique=False)
        batch_op.create_index("ix_shipments_state", ["state", "state_since"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_state")
        batch_op.drop_index("ix_shipments_reference")

    op.drop_table("shipments")
    with op.batch_alter_table("fulfilment_commands", schema=None) as batch_op:
        batch_op.drop_index("ix_fulfilment_commands_due")

    op.drop_table("fulfilment_commands")
