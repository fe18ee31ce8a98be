"""retry window: when outboxed work first failed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_OUTBOXES = ("push_batches", "order_commands", "fulfilment_commands")


def upgrade() -> None:
    for table in _OUTBOXES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in _OUTBOXES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("failing_since")
