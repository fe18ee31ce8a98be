"""Ports for the systems at the hub's edges other than the stock channels (those are `ports.py`).

The flows speak to the warehouse, the IMS and the customer only through these Protocols and see only
domain types; the connectors implement them (structurally: no connector imports this module) and
turn wire formats into domain types at their edge. Calls raise the errors of
`stockbridge.domain.errors`: `RetriableError` (try later), `AuthenticationError` (a person must fix
the credentials), `RejectedError` (the content was refused). Each implementation keeps its system's
rate limit inside: no flow holds a limiter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from stockbridge.domain.alerting import AlertMessage, Channel
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.finance import FinanceBatch, PostedAdjustment
from stockbridge.domain.fulfilment import Shipment, ShipmentNotice
from stockbridge.domain.inbound import (
    FeedItem,
    SnapshotPage,
    StorefrontOrderChanged,
    WarehouseOrderStatus,
)
from stockbridge.domain.order_state import Outcome
from stockbridge.domain.orders import SalesOrder, WmsOrder
from stockbridge.domain.product_master import ItemRecord
from stockbridge.domain.stock import StockBalance, StockMovement
from stockbridge.domain.storefront_fulfilment import ParcelTracking
from stockbridge.domain.storefront_orders import StorefrontOrder
from stockbridge.domain.storefront_routing import ImsOrderRequest, ImsOrderResult
from stockbridge.domain.subscriptions import Subscription


class InboundFormats(Protocol):
    """Reads the payloads a system sent, as the inbox stored them, into domain types. Each method
    raises `stockbridge.domain.inbound.UnusableEvent` with the reason when the content is unusable."""

    def movement(self, payload: str) -> StockMovement: ...

    def snapshot(self, payload: str) -> list[StockBalance]: ...

    def order_status(self, payload: str) -> WarehouseOrderStatus: ...

    def shipment(self, payload: str) -> Shipment: ...


class WarehouseStock(Protocol):
    """The warehouse as the source of stock: its full snapshot, and its events feed for catching up
    on what webhooks missed."""

    @property
    def source(self) -> str:
        """The inbox source its events are stored under (the same as its webhooks')."""
        ...

    async def snapshot_page(
        self, warehouse_id: str, cursor: str | None, page_size: int = 1000
    ) -> SnapshotPage:
        """One page of the snapshot; `cursor` None for the first."""
        ...

    async def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int = 1000
    ) -> tuple[list[FeedItem], int, bool]:
        """One page of the events feed: its items, the sequence to read after next, whether more follow."""
        ...


class WebhookSubscriptions(Protocol):
    """The warehouse's webhook subscriptions."""

    @property
    def events(self) -> frozenset[str]:
        """The event types (in the system's own names) the hub needs delivered."""
        ...

    async def subscriptions(self) -> list[Subscription]: ...

    async def subscribe(self, url: str, secret: str, events: frozenset[str]) -> Subscription: ...

    async def unsubscribe(self, subscription_id: str) -> None:
        """Delete a subscription; one already gone counts as deleted."""
        ...


class WarehouseItems(Protocol):
    """The warehouse's item master."""

    async def items(self) -> dict[str, bool]:
        """Every item in the warehouse: SKU → active."""
        ...

    def item_pages(self) -> AsyncIterator[dict[str, bool]]:
        """The same items a page at a time (SKU → active), so a large catalogue is never one dict."""
        ...

    async def put_item(self, sku: str, *, active: bool, description: str = "") -> None:
        """Create or update an item, idempotently by SKU."""
        ...


class WarehouseOrders(Protocol):
    """Orders at the warehouse. Each call answers DONE, LOCKED (too late: picked or cancelled) or
    REJECTED with the warehouse's reason; a create sent twice creates one order."""

    async def create(self, order: WmsOrder) -> tuple[Outcome, str]: ...

    async def amend(self, order: WmsOrder) -> tuple[Outcome, str]: ...

    async def cancel(self, reference: str) -> tuple[Outcome, str]: ...


class SalesOrderSource(Protocol):
    """The IMS's sales orders."""

    async def changed_since(self, stamp: str | None) -> list[tuple[str, str]]:
        """(id, stamp) of orders modified at or after `stamp` (all if None), oldest first."""
        ...

    async def get(self, ims_id: str) -> SalesOrder: ...


class ProductMaster(Protocol):
    """The IMS's item master: what the warehouse must stock, and the kits orders are exploded by."""

    async def inventory_items(self) -> list[ItemRecord]: ...

    def inventory_item_pages(self) -> AsyncIterator[list[ItemRecord]]:
        """The same items a page at a time, so a large catalogue is never one list."""
        ...

    async def kits(self) -> dict[str, list[KitMember]]:
        """Kit SKU → its members."""
        ...


class FulfilmentTarget(Protocol):
    """Where a despatch is recorded: Item Fulfilments and invoices, idempotent by external id."""

    async def item_fulfilment(
        self,
        so_id: str,
        external_id: str,
        lines: Mapping[int, int],
        *,
        order_lines: Sequence[int],
        location_id: str,
        carrier: str,
        tracking_numbers: Sequence[str],
    ) -> None: ...

    async def invoice(self, so_id: str, external_id: str, lines: Mapping[int, int]) -> None: ...

    async def tracking_numbers(self, external_id: str) -> list[str] | None:
        """The tracking numbers on the Item Fulfilment with this external id; None if there is none."""
        ...


class CustomerNotifier(Protocol):
    """Tells the customer a parcel is on its way, idempotently by shipment id."""

    async def shipment_sent(self, notice: ShipmentNotice) -> None: ...


class StorefrontFormats(Protocol):
    """Reads what one storefront sent (its order webhooks, as the inbox stored them) into domain
    types; raises `UnusableEvent` with the reason when the content is unusable."""

    def order(self, payload: str) -> StorefrontOrder:
        """An order webhook's body (orders/create, updated, paid, cancelled): the order as it was then."""
        ...

    def order_changed(self, payload: str) -> StorefrontOrderChanged:
        """An `orders/edited` body: which order changed."""
        ...


class StorefrontOrderFeed(Protocol):
    """A storefront's orders as they are now: the catch-up query after missed webhooks, and one
    order read again when two of its versions tie (decision 0024)."""

    async def updated_since(self, since: datetime) -> list[StorefrontOrder]:
        """Every order updated at or after `since`, oldest change first."""
        ...

    async def order(self, order_id: str) -> StorefrontOrder | None:
        """One order as it is now; None when the store has no such order."""
        ...


class ImsStorefrontOrders(Protocol):
    """The IMS as the place a storefront order goes first (orders_route: ims)."""

    async def put_storefront_order(self, request: ImsOrderRequest) -> ImsOrderResult:
        """Make the IMS sales order with `request.external_id` match the request: created once (a
        retry finds the one made before by its external id), else edited (lines changed, closed or
        added; every line closed for a cancellation)."""
        ...


class StorefrontFulfilments(Protocol):
    """A storefront told of a shipment (decision 0023): one fulfilment per shipment, on its line items,
    with tracking; the store tells the customer when `notify_customer`."""

    async def line_item_ids(self, order_id: str) -> list[str] | None:
        """The order's line item ids in the store's own order (removed lines included); None if the
        store has no such order."""
        ...

    async def fulfil(
        self,
        order_id: str,
        lines: Mapping[str, int],
        tracking: ParcelTracking,
        *,
        notify_customer: bool,
    ) -> str:
        """Fulfil these line items (id → quantity) with this tracking, once: a retry after a lost
        answer finds the fulfilment made before (by tracking number) and makes none. Returns its id."""
        ...


class FinancePosting(Protocol):
    """The IMS as the books of the daily finance batch (docs/decisions/0030)."""

    async def post_adjustment(self, batch: FinanceBatch) -> None:
        """Create or replace the inventory adjustment whose external id is `batch.id`: posted again
        (after a timeout, a crash), it replaces itself and the IMS moves once."""
        ...

    async def read_adjustment(self, batch: FinanceBatch) -> PostedAdjustment | None:
        """The adjustment with external id `batch.id` as the IMS shows it (lines by SKU); None if absent."""
        ...


class AlertChannels(Protocol):
    """Sends alert messages to people: a Slack-compatible webhook, e-mail, the log. `reference` names
    this message on this channel (the e-mail's Message-ID; shown in the text), the same on a resend."""

    async def deliver(self, channel: Channel, message: AlertMessage, reference: str) -> None: ...
