"""What comes in from the outside systems: the inbox's own kinds, and the domain shapes inbound
payloads become. Pure types, no I/O.

The inbox keeps each payload exactly as it was received (a webhook is stored before it is
acknowledged, signed bytes and all); the connector that speaks the sender's format turns it into
these types when the fold reads it (decision 0020). A flow never sees the wire.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stockbridge.domain.storefront_orders import StorefrontOrder

# The inbox's kinds: what an entry is, whoever sent it. A connector maps its own event types onto
# them. The values are stored in every inbox row (`inbox.kind`) and must not change; the first
# sender was Clarus, whose event names they still read like.
STOCK_MOVEMENT = "inventory.movement"  # a movement at a warehouse, with the balances it left
STOCK_SNAPSHOT = "clarus.stock_snapshot"  # one page of a warehouse's full stock snapshot
WAREHOUSE_ORDER_STATUS = "order.status_changed"  # the warehouse moved one of our orders on
WAREHOUSE_ORDER_UPDATED = "order.updated"  # the warehouse changed one of our orders
SHIPMENT_DESPATCHED = "shipment.despatched"  # a parcel (part of an order) left the warehouse
SALES_ORDER = "ims.sales_order"  # a version of an IMS sales order (stored by the hub's poll)
# A storefront's order webhook (orders/create, updated, paid, cancelled): the order as the store sent
# it, stored under the storefront's channel name as its source; its connector parses it.
STOREFRONT_ORDER = "storefront.order"
# A storefront's `orders/edited` webhook: says an order changed, not how (the catch-up query reads it).
STOREFRONT_ORDER_EDITED = "storefront.order_edited"
# A version of a storefront order the hub read from the store (its catch-up query, or a re-read of
# one order whose versions tied), as the hub's own JSON, with `read_at` when it was read.
STOREFRONT_ORDER_VERSION = "storefront.order_version"
STOREFRONT_KINDS = frozenset({STOREFRONT_ORDER, STOREFRONT_ORDER_EDITED, STOREFRONT_ORDER_VERSION})

STOCK_KINDS = frozenset({STOCK_MOVEMENT, STOCK_SNAPSHOT})
WAREHOUSE_ORDER_KINDS = frozenset({WAREHOUSE_ORDER_STATUS, WAREHOUSE_ORDER_UPDATED})
ORDER_KINDS = frozenset({SALES_ORDER, *WAREHOUSE_ORDER_KINDS, SHIPMENT_DESPATCHED})
# What a warehouse delivers as events (by webhook, and again by its catch-up feed).
WAREHOUSE_EVENT_KINDS = frozenset({STOCK_MOVEMENT, *WAREHOUSE_ORDER_KINDS, SHIPMENT_DESPATCHED})


class UnusableEvent(ValueError):
    """A correctly signed (or fetched) payload whose content the hub cannot use; the reason says why.

    Raised by the connector that parses it; the hub keeps such a payload aside for a person
    (`flows/poison.py`) rather than retrying it forever.
    """


@dataclass(frozen=True, slots=True)
class WarehouseOrderStatus:
    """The warehouse's status of one of the hub's orders, as of its `sequence` (a newer one wins)."""

    reference: str
    status: str
    sequence: int
    warehouse_id: str = ""
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One item of a catch-up feed, checked the way its webhook would have been.

    Usable: `kind` and `event_id` are set and `problem` is None; `raw` is what the inbox stores.
    Unusable: `problem` says why (it is kept aside as rejected). Neither: `kind` is None, a type the
    hub does not fold (a webhook subscription would not have delivered it), to be skipped.
    """

    event_id: str | None  # the id it claims, when it has one
    kind: str | None
    raw: bytes
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    """One page of a warehouse's full stock snapshot, ready for the inbox (kind `STOCK_SNAPSHOT`)."""

    payload: str  # stored as it is; the connector's `snapshot` parses it when the fold reads it
    rows: int
    next_cursor: str | None
    as_of_sequence: int | None  # where the warehouse's events feed stood when the snapshot was taken


@dataclass(frozen=True, slots=True)
class StorefrontOrderChanged:
    """A storefront says one of its orders changed without sending it (Shopify's `orders/edited`):
    the hub reads the order as it now is by its catch-up query."""

    channel: str
    order_id: str


@dataclass(frozen=True, slots=True)
class StorefrontOrderRead:
    """A storefront order as the hub read it from the store (not a webhook's copy); `read_at` is when
    the read began, so the store's order was at least this recent (decision 0024)."""

    order: StorefrontOrder
    read_at: datetime

    @property
    def channel(self) -> str:
        return self.order.channel
