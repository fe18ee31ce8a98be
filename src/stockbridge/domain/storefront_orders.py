"""Orders as a storefront (Shopify, later Magento) holds them. Pure.

Not a `SalesOrder`: that is the IMS's order (its internal id, its status codes, numbered lines). A
storefront order has its own ids (for the order and for each line item, which fulfilments point at),
a display name (`#1001`), a financial status and a cancellation time. `as_sales_order` gives the
validation pipeline (`domain/orders.py`) the view it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stockbridge.domain.orders import PENDING_FULFILLMENT, OrderLine, SalesOrder
from stockbridge.domain.shipping import Address

CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class StorefrontLine:
    line_item_id: str  # the storefront's id (Shopify: gid://shopify/LineItem/...)
    sku: str  # as the storefront has it ("" when the variant has none)
    quantity: int  # what the customer now wants (after edits; 0 when the line was removed)
    unfulfilled: int  # of which not yet shipped


@dataclass(frozen=True, slots=True)
class StorefrontOrder:
    channel: str  # the storefront's key in config ("shopify")
    order_id: str  # the storefront's id (Shopify: gid://shopify/Order/...)
    name: str  # what the merchant and the customer see (#1001)
    email: str
    financial_status: str  # lower case: paid, pending, authorized, partially_refunded, ...
    ship_method: str | None  # the first shipping line's title
    address: Address | None
    lines: tuple[StorefrontLine, ...]
    updated_at: datetime  # aware; the later of two versions of the same order wins
    cancelled_at: datetime | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def open_lines(self) -> tuple[StorefrontLine, ...]:
        return tuple(line for line in self.lines if line.unfulfilled > 0)

    def as_sales_order(self, line_numbers: dict[str, int] | None = None) -> SalesOrder:
        """The order as the validation pipeline reads it. Lines are numbered in order (1, 2, ...)
        unless `line_numbers` (line item id → number) pins them, so a warehouse line keeps its number
        across edits."""
        numbers = line_numbers or {line.line_item_id: i for i, line in enumerate(self.lines, start=1)}
        return SalesOrder(
            ims_id=self.order_id,
            reference=self.name,
            status=CANCELLED if self.cancelled else PENDING_FULFILLMENT,
            ship_method=self.ship_method,
            address=self.address,
            lines=tuple(
                OrderLine(
                    numbers[line.line_item_id],
                    line.sku,
                    line.quantity,
                    quantity_fulfilled=line.quantity - line.unfulfilled,
                    is_closed=line.quantity == 0,
                )
                for line in self.lines
            ),
            last_modified=self.updated_at.isoformat(),
            email=self.email,
        )
