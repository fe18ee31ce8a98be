"""alerts: exception episodes, the alert marks and the alerts outbox (decision 0027)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 09:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exceptions", schema=None) as batch:
        batch.add_column(sa.Column("episode", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("episode_count", sa.Integer(), nullable=False, server_default="1"))
    # An exception open today is in its first known episode, begun when it was first seen.
    op.execute("UPDATE exceptions SET opened_at = first_seen, episode_count = count")
    with op.batch_alter_table("exceptions", schema=None) as batch:
        batch.alter_column("opened_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    op.create_table(
        "alert_marks",
        sa.Column("exception_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("run", sa.String(length=40), nullable=False),
        sa.Column("alerted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("exception_id", "episode", "level"),
    )
    op.create_table(
        "alerts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("alert", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("exception_type", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("exception_ids", sa.JSON(), nullable=False),
        sa.Column("channel", sa.JSON(), nullable=False),
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
    with op.batch_alter_table("alerts", schema=None) as batch:
        batch.create_index("ix_alerts_due", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch:
        batch.drop_index("ix_alerts_due")
    op.drop_table("alerts")
    op.drop_table("alert_marks")
    with op.batch_alter_table("exceptions", schema=None) as batch:
        batch.drop_column("episode_count")
        batch.drop_column("opened_at")
        batch.drop_column("episode")
