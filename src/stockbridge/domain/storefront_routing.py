"""Where a storefront order goes, and in what shape. Pure.

Two routes (config `storefronts.<name>.orders_route`, docs/decisions/0021):
- `clarus`: the hub sends the order straight to the warehouse through the same pipeline and state
  machine as an IMS order (`as_hub_sales_order` gives it the view they read);
- `ims`: the hub makes an IMS sales order of it (`ims_order_request`), and the IMS order reaches the
  warehouse by the IMS flow like any other.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC
from enum import StrEnum

from stockbridge.domain.orders import CANCELLED, HoldReason, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontOrder


def storefront_reference(prefix: str, name: str) -> str:
    """The order's reference at Clarus or in the IMS: `SHOP-` + `#1001` → `SHOP-1001`."""
    return prefix + name.lstrip("#").strip()


def hub_order_id(channel: str, order_id: str) -> str:
    """The key a storefront order is held under beside IMS orders (IMS ids are numbers)."""
    return f"{channel}:{order_id}"


def ims_external_id(channel: str, order_id: str) -> str:
    """The IMS sales order's external id for a storefront order: `shopify-order-5001` for
    `gid://shopify/Order/5001`. It goes into a URL path (`/salesOrder/eid:...`), so no slashes."""
    return f"{channel}-order-{order_id.rsplit('/', 1)[-1]}"


def storefront_version(order: StorefrontOrder) -> str:
    """`updated_at` (UTC, ISO) plus a content hash: a later stamp wins; Shopify stamps to the second,
    so two changes in one second differ by content."""
    stamp = order.updated_at.astimezone(UTC).isoformat()
    content = json.dumps(asdict(order), sort_keys=True, default=str).encode()
    return f"{stamp}#{hashlib.sha256(content).hexdigest()[:16]}"


def as_hub_sales_order(order: StorefrontOrder, reference_prefix: str) -> SalesOrder:
    """The order as the warehouse pipeline reads it (route clarus). Its status is the storefront's
    financial status (released when in the store's `release_financial_statuses`) or CANCELLED. Lines
    ask for what the customer now wants: fulfilments made in the store do not reduce the warehouse's
    request (the hub's own would look the same), a removed line asks for nothing."""
    view = order.as_sales_order()
    return replace(
        view,
        ims_id=hub_order_id(order.channel, order.order_id),
        reference=storefront_reference(reference_prefix, order.name),
        status=CANCELLED if order.cancelled else order.financial_status,
        last_modified=order.updated_at.astimezone(UTC).isoformat(),
        lines=tuple(replace(line, quantity_fulfilled=0) for line in view.lines),
    )


def released(order: StorefrontOrder, release_financial_statuses: frozenset[str]) -> bool:
    return not order.cancelled and order.financial_status in release_financial_statuses


# --- route ims ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImsOrderLine:
    line_item_id: str  # the storefront's line
    line: int | None  # the IMS order's line number; None: a line to add
    item_id: str  # the IMS item's internal id
    quantity: int  # 0: close the line


@dataclass(frozen=True, slots=True)
class ImsOrderRequest:
    external_id: str  # idempotency: the storefront order (`ims_external_id`)
    tran_id: str  # the reference (prefix + order number)
    customer_id: str
    status: str  # the IMS status it is created in (one the IMS flow releases)
    ship_method: str | None  # the storefront's shipping title; the IMS ship item of that name
    address: Address | None
    email: str
    lines: tuple[ImsOrderLine, ...]
    cancelled: bool  # close every line


@dataclass(frozen=True, slots=True)
class ImsOrderResult:
    ims_id: str
    lines: Mapping[str, int]  # storefront line item id → IMS line number, for every line it has


@dataclass(frozen=True, slots=True)
class ImsItemRef:
    item_id: str
    active: bool


def ims_order_request(
    order: StorefrontOrder,
    *,
    reference: str,
    customer_id: str,
    status: str,
    items: Mapping[str, ImsItemRef],
    ims_lines: Mapping[str, int],
) -> ImsOrderRequest | list[HoldReason]:
    """The IMS sales order a storefront order should be, or why it cannot be made yet (a SKU the IMS
    does not have or has made inactive). `ims_lines` are the lines the IMS order already has."""
    holds: list[HoldReason] = []
    lines: list[ImsOrderLine] = []
    for line in order.lines:
        known = ims_lines.get(line.line_item_id)
        quantity = 0 if order.cancelled else line.quantity
        if known is None and quantity == 0:
            continue  # removed before the IMS ever had it
        item = items.get(line.sku)
        if item is None:
            holds.append(HoldReason("unknown_item", f"{line.sku or '(no SKU)'} is not an item in the IMS"))
            continue
        if not item.active and quantity > 0:
            holds.append(HoldReason("inactive_item", f"{line.sku} is inactive in the IMS"))
            continue
        lines.append(ImsOrderLine(line.line_item_id, known, item.item_id, quantity))
    if holds:
        return list(dict.fromkeys(holds))
    return ImsOrderRequest(
        external_id=ims_external_id(order.channel, order.order_id),
        tran_id=reference,
        customer_id=customer_id,
        status=status,
        ship_method=order.ship_method,
        address=order.address,
        email=order.email,
        lines=tuple(lines),
        cancelled=order.cancelled,
    )


class RoutedState(StrEnum):
    """A storefront order on its way into the IMS (route ims), as the hub holds it."""

    WAITING = "waiting"  # not paid (or not yet) and the IMS has never had it
    HELD = "held"  # the IMS order cannot be made as it should be (unknown or inactive item)
    PENDING = "pending"  # a command is making the IMS order match the newest version
    SYNCED = "synced"  # the IMS order matches the newest version
    CANCELLED = "cancelled"  # cancelled; the IMS order, if there is one, has every line closed


@dataclass(frozen=True, slots=True)
class RouteDecision:
    state: RoutedState
    holds: tuple[HoldReason, ...] = ()
    command: bool = False  # queue "make the IMS order match the newest version"


def decide_ims_route(
    order: StorefrontOrder,
    *,
    state: RoutedState,
    in_ims: bool,
    synced: bool,
    release_financial_statuses: frozenset[str],
    request: ImsOrderRequest | list[HoldReason],
) -> RouteDecision:
    """The next state of a storefront order routed through the IMS. `in_ims`: the IMS has a sales
    order for it; `synced`: that order was made from this very version; `request` what the IMS order
    should be (`ims_order_request`) or why it cannot be made."""
    if not in_ims and not released(order, release_financial_statuses):
        return RouteDecision(RoutedState.CANCELLED if order.cancelled else RoutedState.WAITING)
    if isinstance(request, list):
        return RouteDecision(RoutedState.HELD, tuple(request))
    if synced or (order.cancelled and state == RoutedState.CANCELLED):
        return RouteDecision(RoutedState.CANCELLED if order.cancelled else RoutedState.SYNCED)
    return RouteDecision(RoutedState.PENDING, command=True)


def ims_status(release_statuses: frozenset[str]) -> str:
    """The status an IMS order is created in: Pending Fulfillment (B) when the IMS flow releases it,
    else the first status it does release; the order must flow on without a person approving it."""
    return "B" if "B" in release_statuses or not release_statuses else sorted(release_statuses)[0]
