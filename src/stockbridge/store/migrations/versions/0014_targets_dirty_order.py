"""dirty targets indexed in the order a pusher claims them (priority, then oldest update)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0014"

down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `claim_dirty` orders by priority then updated_at with a LIMIT: without updated_at in the index
    # every claim sorted the whole dirty band, so pushing a million figures cost a million squared.
    op.drop_index("ix_targets_dirty", table_name="targets")
    op.create_index("ix_targets_dirty", "targets", ["channel", "dirty", "state", "priority", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_targets_dirty", table_name="targets")
    op.create_index("ix_targets_dirty", "targets", ["channel", "dirty", "state", "priority"])
