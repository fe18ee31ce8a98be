"""Shopify orders: the catch-up query, one order by id, and fulfilments through fulfillment orders.

Catch-up: `orders(query: "updated_at:>='<iso>'", sortKey: UPDATED_AT)` paged to the end, the same
`StorefrontOrder` the webhooks give. Fulfilment: Shopify ships fulfillment order line items, not
order line items, so `create_fulfilment` finds the open fulfillment order lines behind the order's
line items and fulfils only the shipped quantities (a partial shipment is a partial fulfilment).
`fulfillmentCreate` takes no external id; a retry is recognised by the order's existing fulfilments
(decision 0019).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shapes import expect_shape
from stockbridge.connectors.shopify.client import SYSTEM, ShopifyClient, rejection, user_errors
from stockbridge.connectors.shopify.wire import aware_datetime
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder

ORDERS_PAGE = 10  # orders per page: with 50 line items each, about 600 points of a 1,000 bucket
LINES_PAGE = 50
OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})  # fulfillment orders that can still ship

_ORDER_FIELDS = """
fragment OrderFields on Order {
  id name email updatedAt cancelledAt displayFinancialStatus
  shippingLines(first: 1) { nodes { title } }
  shippingAddress {
    name firstName lastName address1 address2 city province provinceCode zip country countryCodeV2 phone
  }
  lineItems(first: LINES_PAGE) {
    nodes { id sku quantity currentQuantity unfulfilledQuantity }
    pageInfo { hasNextPage }
  }
}
""".replace("LINES_PAGE", str(LINES_PAGE))

ORDERS_UPDATED_SINCE = (
    """
query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { ...OrderFields }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + _ORDER_FIELDS
)

ORDER_LINE_ITEMS = """
query OrderLineItems($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: 250, after: $after) {
      nodes { id sku quantity currentQuantity unfulfilledQuantity }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

ORDER_BY_ID = "query OrderById($id: ID!) { order(id: $id) { ...OrderFields } }" + _ORDER_FIELDS

FULFILMENT_STATE = """
query FulfilmentState($id: ID!) {
  order(id: $id) {
    fulfillmentOrders(first: 20) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: 100) { nodes { id remainingQuantity lineItem { id } } }
      }
    }
    fulfillments(first: 50) {
      id status
      trackingInfo(first: 5) { number }
      fulfillmentLineItems(first: 100) { nodes { quantity lineItem { id } } }
    }
  }
}
"""

FULFILLMENT_CREATE = """
mutation CreateFulfillment($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status }
    userErrors { field message }
  }
}
"""


@dataclass(frozen=True, slots=True)
class Tracking:
    company: str | None
    number: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class FulfilmentOrderLine:
    id: str  # gid://shopify/FulfillmentOrderLineItem/...
    line_item_id: str
    remaining: int


@dataclass(frozen=True, slots=True)
class FulfilmentOrder:
    id: str
    status: str
    location_id: str | None
    lines: tuple[FulfilmentOrderLine, ...]


@dataclass(frozen=True, slots=True)
class Fulfilment:
    id: str
    status: str
    tracking_numbers: tuple[str, ...]
    lines: tuple[tuple[str, int], ...]  # (line item id, quantity)


class ShopifyOrders:
    def __init__(self, client: ShopifyClient, channel: str = "shopify") -> None:
        self._client = client
        self._channel = channel

    async def updated_since(self, since: datetime) -> list[StorefrontOrder]:
        """Every order updated at or after `since`, oldest change first."""
        iso = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        variables: dict[str, Any] = {"first": ORDERS_PAGE, "query": f"updated_at:>='{iso}'"}
        orders: list[StorefrontOrder] = []
        while True:
            data = await self._client.execute(
                "OrdersUpdatedSince", ORDERS_UPDATED_SINCE, variables, cost=ORDERS_PAGE * (LINES_PAGE + 8)
            )
            with expect_shape(SYSTEM, "orders"):
                page = data["orders"]
                nodes = list(page["nodes"])
                more, cursor = bool(page["pageInfo"]["hasNextPage"]), page["pageInfo"]["endCursor"]
            for node in nodes:
                orders.append(await self._complete(node))
            if not more:
                return orders
            variables["after"] = cursor

    async def order(self, order_id: str) -> StorefrontOrder | None:
        """One order as it is now; None when the store has no such order."""
        data = await self._client.execute("OrderById", ORDER_BY_ID, {"id": order_id}, cost=LINES_PAGE + 8)
        with expect_shape(SYSTEM, "order"):
            node = data["order"]
        return None if node is None else await self._complete(node)

    async def _complete(self, node: dict[str, Any]) -> StorefrontOrder:
        """The order from its node, fetching the rest of its line items when it has more than a page."""
        with expect_shape(SYSTEM, "order"):
            items = list(node["lineItems"]["nodes"])
            more = bool(node["lineItems"]["pageInfo"]["hasNextPage"])
        if more:
            items = await self._all_line_items(str(node["id"]))
        with expect_shape(SYSTEM, "order"):
            return order_from_node(self._channel, node, items)

    async def _all_line_items(self, order_id: str) -> list[dict[str, Any]]:
        variables: dict[str, Any] = {"id": order_id}
        items: list[dict[str, Any]] = []
        while True:
            data = await self._client.execute("OrderLineItems", ORDER_LINE_ITEMS, variables, cost=260)
            with expect_shape(SYSTEM, "order line items"):
                connection = data["order"]["lineItems"]
                items.extend(connection["nodes"])
                if not connection["pageInfo"]["hasNextPage"]:
                    return items
                variables["after"] = connection["pageInfo"]["endCursor"]

    async def fulfilment_state(self, order_id: str) -> tuple[list[FulfilmentOrder], list[Fulfilment]]:
        """The order's fulfillment orders and the fulfilments made so far."""
        data = await self._client.execute("FulfilmentState", FULFILMENT_STATE, {"id": order_id}, cost=200)
        with expect_shape(SYSTEM, "fulfillment orders"):
            order = data["order"]
            if order is None:
                raise RejectedError(SYSTEM, f"order {order_id} not found", code="NOT_FOUND")
            return (
                [_fulfilment_order(node) for node in order["fulfillmentOrders"]["nodes"]],
                [_fulfilment(node) for node in order["fulfillments"]],
            )

    async def fulfillment_orders(self, order_id: str) -> list[FulfilmentOrder]:
        return (await self.fulfilment_state(order_id))[0]

    async def create_fulfilment(
        self,
        order_id: str,
        lines: Sequence[tuple[str, int]],
        tracking: Tracking,
        *,
        notify_customer: bool = True,
    ) -> Fulfilment:
        """Fulfil these (line item id, quantity) with this tracking, once: when the order already has a
        fulfilment for this shipment (same tracking number; without one, the same lines), that one is
        returned and nothing is created."""
        fulfilment_orders, existing = await self.fulfilment_state(order_id)
        wanted = _merged(lines)
        for fulfilment in existing:
            if fulfilment.status.upper() not in ("CANCELLED", "ERROR", "FAILURE") and _same_shipment(
                fulfilment, tracking, wanted
            ):
                return fulfilment
        created: list[Fulfilment] = []
        for location_lines in _plan(order_id, fulfilment_orders, wanted):
            created.append(await self._create(location_lines, tracking, notify_customer))
        # One shipment from one warehouse is one location, so one fulfilment; several only if the
        # store split the order's lines across locations.
        return created[0] if len(created) == 1 else _joined(created)

    async def _create(
        self, by_order: dict[str, list[tuple[str, int]]], tracking: Tracking, notify_customer: bool
    ) -> Fulfilment:
        info = {
            k: v
            for k, v in (("company", tracking.company), ("number", tracking.number), ("url", tracking.url))
            if v
        }
        fulfillment = {
            "lineItemsByFulfillmentOrder": [
                {
                    "fulfillmentOrderId": fo_id,
                    "fulfillmentOrderLineItems": [
                        {"id": line_id, "quantity": qty} for line_id, qty in fo_lines
                    ],
                }
                for fo_id, fo_lines in by_order.items()
            ],
            "trackingInfo": info,
            "notifyCustomer": notify_customer,
        }
        data = await self._client.execute(
            "CreateFulfillment", FULFILLMENT_CREATE, {"fulfillment": fulfillment}
        )
        with expect_shape(SYSTEM, "fulfillmentCreate"):
            payload = data["fulfillmentCreate"]
        errors = user_errors(payload, "fulfillmentCreate")
        if errors:
            raise rejection(errors, "fulfillmentCreate")
        with expect_shape(SYSTEM, "fulfillmentCreate"):
            made = payload["fulfillment"]
            return Fulfilment(
                str(made["id"]),
                str(made["status"]),
                (tracking.number,) if tracking.number else (),
                tuple((line_id, qty) for fo_lines in by_order.values() for line_id, qty in fo_lines),
            )


def _merged(lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for line_item_id, quantity in lines:
        if quantity > 0:
            merged[line_item_id] = merged.get(line_item_id, 0) + quantity
    return merged


def _same_shipment(fulfilment: Fulfilment, tracking: Tracking, wanted: dict[str, int]) -> bool:
    if tracking.number:
        return tracking.number in fulfilment.tracking_numbers
    return dict(fulfilment.lines) == wanted


def _plan(
    order_id: str, fulfilment_orders: Sequence[FulfilmentOrder], wanted: dict[str, int]
) -> list[dict[str, list[tuple[str, int]]]]:
    """The fulfillment order lines that ship `wanted`, per location then per fulfillment order."""
    by_location: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for line_item_id, quantity in wanted.items():
        left = quantity
        for fo in fulfilment_orders:
            if fo.status.upper() not in OPEN_STATUSES:
                continue
            for fo_line in fo.lines:
                if left == 0 or fo_line.line_item_id != line_item_id or fo_line.remaining == 0:
                    continue
                take = min(left, fo_line.remaining)
                by_location.setdefault(fo.location_id or "", {}).setdefault(fo.id, []).append(
                    (fo_line.id, take)
                )
                left -= take
        if left:
            raise RejectedError(
                SYSTEM,
                f"order {order_id}: {left} of {quantity} of {line_item_id} have nothing left to fulfil",
                code="NOTHING_TO_FULFIL",
                path=line_item_id,
            )
    return list(by_location.values())


def _joined(created: list[Fulfilment]) -> Fulfilment:
    return Fulfilment(
        ",".join(f.id for f in created),
        created[-1].status,
        created[0].tracking_numbers,
        tuple(line for f in created for line in f.lines),
    )


def _fulfilment_order(node: dict[str, Any]) -> FulfilmentOrder:
    location = (node.get("assignedLocation") or {}).get("location") or {}
    return FulfilmentOrder(
        str(node["id"]),
        str(node["status"]),
        None if location.get("id") is None else str(location["id"]),
        tuple(
            FulfilmentOrderLine(str(line["id"]), str(line["lineItem"]["id"]), int(line["remainingQuantity"]))
            for line in node["lineItems"]["nodes"]
        ),
    )


def _fulfilment(node: dict[str, Any]) -> Fulfilment:
    return Fulfilment(
        str(node["id"]),
        str(node["status"]),
        tuple(str(t["number"]) for t in node["trackingInfo"] if t.get("number")),
        tuple(
            (str(line["lineItem"]["id"]), int(line["quantity"]))
            for line in node["fulfillmentLineItems"]["nodes"]
        ),
    )


def order_from_node(channel: str, node: dict[str, Any], items: Sequence[dict[str, Any]]) -> StorefrontOrder:
    """A GraphQL Order node as the domain's storefront order (raises on a wrong shape)."""
    shipping = node["shippingLines"]["nodes"]
    address = node.get("shippingAddress")
    cancelled = node.get("cancelledAt")
    return StorefrontOrder(
        channel=channel,
        order_id=str(node["id"]),
        name=str(node["name"]),
        email=str(node.get("email") or ""),
        financial_status=str(node.get("displayFinancialStatus") or "").lower(),
        ship_method=str(shipping[0]["title"]) if shipping else None,
        address=None if address is None else _address(address),
        lines=tuple(
            StorefrontLine(
                str(item["id"]),
                str(item.get("sku") or ""),
                int(item["currentQuantity"]),
                int(item["unfulfilledQuantity"]),
            )
            for item in items
        ),
        updated_at=aware_datetime(node["updatedAt"], "updatedAt"),
        cancelled_at=aware_datetime(cancelled, "cancelledAt") if cancelled else None,
    )


def _address(raw: dict[str, Any]) -> Address:
    def text(key: str) -> str:
        return str(raw.get(key) or "")

    return Address(
        name=text("name") or " ".join(p for p in (text("firstName"), text("lastName")) if p),
        line1=text("address1"),
        line2=text("address2"),
        city=text("city"),
        region=text("provinceCode") or text("province"),
        postcode=text("zip"),
        country=text("countryCodeV2") or text("country"),
        phone=text("phone"),
    )
