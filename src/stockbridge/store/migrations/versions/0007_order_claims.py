"""order claims: units orders claim before the warehouse allocates them (decision 0022)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 07:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copies of the rule at the time of writing (domain/demand.py): migrations do not import the
# application, which moves on.
_CLAIMING = ("release_pending", "released", "amend_pending")
_UNALLOCATED = ("received", "released", "on_hold")


def upgrade() -> None:
    op.create_table(
        "order_claims",
        sa.Column("ims_id", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("warehouse_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ims_id", "sku", "warehouse_id"),
    )
    with op.batch_alter_table("order_claims", schema=None) as batch_op:
        batch_op.create_index("ix_order_claims_sku", ["sku", "warehouse_id"], unique=False)
    _backfill()


def _backfill() -> None:
    """Claims of the orders already between the hub and allocation: what the warehouse holds (sent),
    or the newest create or amend still to be sent. The targets follow at their next change."""
    bind = op.get_bind()
    orders = bind.execute(
        sa.text("SELECT ims_id, state, wms_status, sent FROM sales_orders WHERE state IN :states").bindparams(
            sa.bindparam("states", expanding=True)
        ),
        {"states": list(_CLAIMING)},
    ).fetchall()
    rows: list[dict[str, Any]] = []
    for ims_id, state, wms_status, sent in orders:
        if wms_status is not None and wms_status not in _UNALLOCATED:
            continue
        lines_of = _json(sent)
        if state != "released":
            pending = bind.execute(
                sa.text(
                    "SELECT payload FROM order_commands WHERE ims_id = :id AND kind IN ('create', 'amend') "
                    "AND state IN ('pending', 'dead') ORDER BY id DESC LIMIT 1"
                ),
                {"id": ims_id},
            ).scalar()
            lines_of = _json(pending) or lines_of
        if not lines_of:
            continue
        claim: dict[tuple[str, str], int] = {}
        for line in lines_of["lines"]:
            key = (str(line["sku"]), str(lines_of["warehouse_id"]))
            claim[key] = claim.get(key, 0) + max(0, int(line["quantity"]))
        rows += [
            {"ims_id": ims_id, "sku": sku, "warehouse_id": wh, "quantity": q}
            for (sku, wh), q in claim.items()
            if q > 0
        ]
    if rows:
        op.bulk_insert(sa.table("order_claims", *(sa.column(c) for c in rows[0])), rows)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def downgrade() -> None:
    with op.batch_alter_table("order_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_order_claims_sku")
    op.drop_table("order_claims")
