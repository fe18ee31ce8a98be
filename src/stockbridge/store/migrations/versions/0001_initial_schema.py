"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 03:41:48.710061
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "exceptions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("retry_action", sa.String(length=200), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("type", "entity", name="uq_exceptions_type_entity"),
    )
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.create_index("ix_exceptions_state", ["state", "owner"], unique=False)

    op.create_table(
        "ims_items",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("item_id", sa.String(length=32), nullable=False),
        sa.Column("is_inactive", sa.Boolean(), nullable=False),
        sa.Column("last_modified", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_inbox_source_event"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_state_id", ["state", "id"], unique=False)

    op.create_table(
        "latency_samples",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("latency_samples", schema=None) as batch_op:
        batch_op.create_index("ix_latency_acked", ["channel", "acked_at"], unique=False)

    op.create_table(
        "observed_stock",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("sku", "warehouse_id", "status"),
    )
    op.create_table(
        "push_batches",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("push_batches", schema=None) as batch_op:
        batch_op.create_index("ix_push_batches_state", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "targets",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=64), nullable=False),
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("desired", sa.BigInteger(), nullable=False),
        sa.Column("desired_version", sa.BigInteger(), nullable=False),
        sa.Column("source_occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pushed", sa.BigInteger(), nullable=True),
        sa.Column("pushed_version", sa.BigInteger(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dirty", sa.Boolean(), nullable=False),
        sa.Column("dirty_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("movements_since_push", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=100), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "sku", "location"),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index("ix_targets_dirty", ["channel", "dirty", "state", "priority"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index("ix_targets_dirty")

    op.drop_table("targets")
    with op.batch_alter_table("push_batches", schema=None) as batch_op:
        batch_op.drop_index("ix_push_batches_state")

    op.drop_table("push_batches")
    op.drop_table("observed_stock")
    with op.batch_alter_table("latency_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_latency_acked")

    op.drop_table("latency_samples")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_state_id")

    op.drop_table("inbox")
    op.drop_table("ims_items")
    with op.batch_alter_table("exceptions", schema=None) as batch_op:
        batch_op.drop_index("ix_exceptions_state")

    op.drop_table("exceptions")
    op.drop_table("cursors")
    op.drop_table("counters")
