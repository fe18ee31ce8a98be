"""The store's in-memory state: sources and source items (MSI), orders with their items, shipments.

Order items follow Magento's parent/child model: a bundle is a parent item (`product_type: bundle`)
whose components are child items (`parent_item_id` = the parent's `item_id`), each child's
`qty_ordered` being the order's whole quantity of that component (bundle qty × selection qty); a
configurable is a parent item (`configurable`, carrying the chosen simple's SKU) with one simple
child. Which of them ships is Magento's `isDummy(true)`: a configurable ships as its parent (the child
follows), a bundle here ships as its children (**Simplified**: "Ship Bundle Items: Separately"; the
"Together" variant, where the parent ships and children follow, is not simulated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SIMPLE, BUNDLE, CONFIGURABLE = "simple", "bundle", "configurable"

# Order states (Magento\Sales\Model\Order::STATE_*).
NEW, PROCESSING, COMPLETE, CLOSED, CANCELED, HOLDED = (
    "new",
    "processing",
    "complete",
    "closed",
    "canceled",
    "holded",
)
PENDING_PAYMENT, PAYMENT_REVIEW = "pending_payment", "payment_review"
STATES = frozenset({NEW, PROCESSING, COMPLETE, CLOSED, CANCELED, HOLDED, PENDING_PAYMENT, PAYMENT_REVIEW})


@dataclass
class Item:
    item_id: int
    order_id: int
    sku: str
    name: str
    product_type: str
    qty_ordered: float
    price: float = 0.0
    parent_item_id: int | None = None
    qty_shipped: float = 0.0
    qty_canceled: float = 0.0
    qty_invoiced: float = 0.0

    @property
    def remaining(self) -> float:
        return self.qty_ordered - self.qty_shipped - self.qty_canceled


@dataclass
class Track:
    entity_id: int
    track_number: str
    title: str
    carrier_code: str


@dataclass
class Shipment:
    entity_id: int
    increment_id: str
    order_id: int
    items: list[tuple[int, float]]  # (order item id, qty) as shipped, dummies included
    tracks: list[Track]
    created_at: datetime
    notify: bool


@dataclass
class Order:
    entity_id: int
    increment_id: str
    state: str
    status: str
    created_at: datetime
    updated_at: datetime
    email: str
    firstname: str
    lastname: str
    shipping_description: str
    shipping_method: str
    address: dict[str, Any]
    payment_method: str
    items: list[Item] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    hold_before: tuple[str, str] | None = None

    def item(self, item_id: int) -> Item | None:
        return next((i for i in self.items if i.item_id == item_id), None)

    def children(self, parent: Item) -> list[Item]:
        return [i for i in self.items if i.parent_item_id == parent.item_id]

    def parent(self, item: Item) -> Item | None:
        return None if item.parent_item_id is None else self.item(item.parent_item_id)

    def ships_itself(self, item: Item) -> bool:
        """Not a dummy for a shipment: a simple of its own, a bundle's component, a configurable."""
        parent = self.parent(item)
        if parent is not None:
            return parent.product_type == BUNDLE
        return item.product_type != BUNDLE


@dataclass
class SourceItemChange:
    """One source item's quantity or status changed (the oracle's log)."""

    at: datetime
    sku: str
    source_code: str
    before: float | None  # None: the source item did not exist
    after: float
    status: int


@dataclass
class SourceItem:
    sku: str
    source_code: str
    quantity: float
    status: int  # 1 in stock, 0 out of stock
