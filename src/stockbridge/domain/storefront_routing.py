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
from datetime import UTC, datetime, timedelta
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


# --- which version of a storefront order is the store's (docs/decisions/0024) ----------------------
#
# Shopify stamps an order's `updatedAt` to the second and its API offers nothing finer for an order
# (no sequence, no edit counter; `legacyResourceId` is the id, not a version). Two changes in one
# second carry one stamp, and webhooks arrive in any order, so arrival cannot tell which came last.
# A version the hub read from the store itself, once that second was over, can: nothing stamped with
# that second can follow it. `STAMP_SETTLED` is that second plus one for the clocks of the hub and
# the store to differ by.
STAMP_SETTLED = timedelta(seconds=2)


class Verdict(StrEnum):
    """What to do with a version of an order the hub already holds a version of."""

    NEWER = "newer"  # take it
    CONFIRMED = "confirmed"  # the same content, now read from the store: keep it, marked as read
    KEEP = "keep"  # older, or the same: nothing to do
    TIE = "tie"  # the same second, other content, neither read from the store: ask the store


@dataclass(frozen=True, slots=True)
class OrderVersion:
    """`stamp#digest[#read]`: the store's `updated_at` (UTC ISO), a content hash, and when the
    content was read from the store once its second was over (compact UTC, fixed width, so later
    reads sort later); no `read` for a webhook's copy or a read inside the stamp's second."""

    stamp: str
    digest: str
    read: str = ""

    @classmethod
    def parse(cls, text: str) -> OrderVersion:
        stamp, _, rest = text.partition("#")
        digest, _, read = rest.partition("#")
        return cls(stamp, digest, read)

    @property
    def content(self) -> str:
        return f"{self.stamp}#{self.digest}"

    def __str__(self) -> str:
        return f"{self.content}#{self.read}" if self.read else self.content


def read_version(version: str, updated_at: datetime, read_at: datetime | None) -> str:
    """`version` (`stamp#digest`) marked as read from the store at `read_at` when that read came
    after the stamp's second was over (`STAMP_SETTLED`); else as it is."""
    if read_at is None or read_at < updated_at + STAMP_SETTLED:
        return version
    return f"{version}#{read_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}"


def compare_versions(candidate: str, current: str) -> Verdict:
    """The storefront rule: a later stamp wins and an earlier one never does; within one second a
    version read from the store beats a webhook's copy (and a later read an earlier one); two
    webhook copies of one second with other content are a tie the store must settle."""
    new, old = OrderVersion.parse(candidate), OrderVersion.parse(current)
    if new.stamp != old.stamp:
        return Verdict.NEWER if new.stamp > old.stamp else Verdict.KEEP
    if new.digest == old.digest:
        return Verdict.CONFIRMED if new.read and not old.read else Verdict.KEEP
    if new.read and old.read:
        return Verdict.NEWER if new.read > old.read else Verdict.KEEP
    if new.read or old.read:
        return Verdict.NEWER if new.read else Verdict.KEEP
    return Verdict.TIE


def same_content(a: str, b: str | None) -> bool:
    """Two versions of the same stamp and content, however each was obtained."""
    return b is not None and OrderVersion.parse(a).content == OrderVersion.parse(b).content


def storefront_version(order: StorefrontOrder, read_at: datetime | None = None) -> str:
    """`updated_at` (UTC, ISO) plus a content hash, marked as read when it was read from the store
    at `read_at` after its second was over (`compare_versions` is the rule)."""
    stamp = order.updated_at.astimezone(UTC).isoformat()
    content = json.dumps(asdict(order), sort_keys=True, default=str).encode()
    return read_version(f"{stamp}#{hashlib.sha256(content).hexdigest()[:16]}", order.updated_at, read_at)


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
