"""Stock as the warehouse reports it: balances per (SKU, warehouse, inventory status), versioned.

Pure types and the fold rule. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StockBalance:
    """The absolute quantity of one SKU in one inventory status at one warehouse.

    `version` is the warehouse's movement sequence of the last movement that changed it, so an older
    report can never overwrite a newer one whatever order they arrive in.
    """

    sku: str
    warehouse_id: str
    status: str
    quantity: int
    version: int
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StockMovement:
    """One warehouse movement as folded by the hub: what happened, and the balances it left."""

    event_id: str
    warehouse_id: str
    sequence: int
    occurred_at: datetime
    movement_type: str
    sku: str
    quantity: int
    balances: tuple[StockBalance, ...]
    from_status: str | None = None  # where the units left (None: receipt, count)
    to_status: str | None = None  # where they arrived (None: despatch, write-off)
    # Its financial reason (domain/finance.py: DAMAGE, WRITE_OFF, COUNT), as the warehouse's
    # connector reads its movement type; None for a movement without financial effect.
    reason: str | None = None


def newer(candidate: StockBalance, current: StockBalance | None) -> bool:
    """True when `candidate` should replace `current` (strictly newer version wins; ties keep current)."""
    return current is None or candidate.version > current.version


def fold_balances(balances: list[StockBalance]) -> dict[tuple[str, str, str], StockBalance]:
    """Fold balances in any order into the newest balance per (sku, warehouse, status)."""
    folded: dict[tuple[str, str, str], StockBalance] = {}
    for balance in balances:
        key = (balance.sku, balance.warehouse_id, balance.status)
        if newer(balance, folded.get(key)):
            folded[key] = balance
    return folded
