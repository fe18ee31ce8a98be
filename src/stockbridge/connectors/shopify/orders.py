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
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shapes import expect_shape
from stockbridge.connectors.shopify.client import SYSTEM, ShopifyClient, rejection, user_errors
from stockbridge.connectors.shopify.fulfilments import (
    FULFILLMENT_CREATE,
    FULFILMENT_LINES,
    FULFILMENT_ORDER_LINES,
    FULFILMENT_ORDER_LINES_COST,
    FULFILMENT_STATE,
    FULFILMENT_STATE_COST,
    MAX_PAGE,
    Fulfilment,
    FulfilmentOrder,
    Tracking,
    fulfilment_from,
    fulfilment_lines_from,
    fulfilment_order_from,
    joined,
    merged,
    plan,
    same_shipment,
)
from stockbridge.connectors.shopify.wire import aware_datetime
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder

ORDERS_PAGE = 10  # orders per page: with 50 line items each, about 600 points of a 1,000 bucket
LINES_PAGE = 50

_ORDER_FIELDS = """
fragment OrderFields on Order {
  id name email updatedAt cancelledAt displayFinancialStatus
  shippingLines(first: 1) { nodes { title } }
  shippingAddress {
    name firstName lastName address1 address2 city province provinceCode zip country countryCodeV2 phone
  }
  lineItems(first: LINES_PAGE) {
    nodes { id sku quantity currentQuantity unfulfilledQuantity }
    pageInfo { hasNextPage endCursor }
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

# The order's line items after its first page, a page at a time (about 53 points each).
ORDER_LINE_ITEMS = """
query OrderLineItems($id: ID!, $after: String) {
  order(id: $id) {
    lineItems(first: LINES_PAGE, after: $after) {
      nodes { id sku quantity currentQuantity unfulfilledQuantity }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".replace("LINES_PAGE", str(LINES_PAGE))

ORDER_BY_ID = "query OrderById($id: ID!) { order(id: $id) { ...OrderFields } }" + _ORDER_FIELDS


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
        items = await self._line_items(node, "OrderLineItems", ORDER_LINE_ITEMS, "order", LINES_PAGE + 3)
        with expect_shape(SYSTEM, "order"):
            return order_from_node(self._channel, node, items)

    async def _line_items(
        self, node: dict[str, Any], operation: str, query: str, root: str, cost: float
    ) -> list[dict[str, Any]]:
        """The node's `lineItems`: the page it came with, then from its cursor a page a call while
        `hasNextPage` says there are more (`query` reads `root(id:).lineItems(after:)`)."""
        with expect_shape(SYSTEM, operation):
            connection = node["lineItems"]
            variables: dict[str, Any] = {"id": str(node["id"])}
        items: list[dict[str, Any]] = []
        while True:
            with expect_shape(SYSTEM, operation):
                items.extend(connection["nodes"])
                if not connection["pageInfo"]["hasNextPage"]:
                    return items
                variables["after"] = connection["pageInfo"]["endCursor"]
            data = await self._client.execute(operation, query, variables, cost=cost)
            with expect_shape(SYSTEM, operation):
                connection = data[root]["lineItems"]

    async def fulfilment_state(self, order_id: str) -> tuple[list[FulfilmentOrder], list[Fulfilment]]:
        """The order's fulfillment orders and the fulfilments made so far (their tracking numbers;
        their lines are read only when needed, `_with_lines`)."""
        variables: dict[str, Any] = {"id": order_id}
        fulfilment_orders: list[FulfilmentOrder] = []
        while True:
            data = await self._client.execute(
                "FulfilmentState", FULFILMENT_STATE, variables, cost=FULFILMENT_STATE_COST
            )
            with expect_shape(SYSTEM, "fulfillment orders"):
                order = data["order"]
                if order is None:
                    raise RejectedError(SYSTEM, f"order {order_id} not found", code="NOT_FOUND")
                fulfilments = [fulfilment_from(node) for node in order["fulfillments"]]
                page = order["fulfillmentOrders"]
                nodes = list(page["nodes"])
                more, cursor = bool(page["pageInfo"]["hasNextPage"]), page["pageInfo"]["endCursor"]
            for node in nodes:
                fulfilment_orders.append(await self._fulfilment_order(node))
            if not more:
                return fulfilment_orders, fulfilments
            variables["after"] = cursor

    async def _fulfilment_order(self, node: dict[str, Any]) -> FulfilmentOrder:
        """A fulfillment order from its node, reading its lines past the first page when it has more."""
        lines = await self._line_items(
            node,
            "FulfilmentOrderLines",
            FULFILMENT_ORDER_LINES,
            "fulfillmentOrder",
            FULFILMENT_ORDER_LINES_COST,
        )
        with expect_shape(SYSTEM, "fulfillment orders"):
            return fulfilment_order_from(node, lines)

    async def _with_lines(
        self, order_id: str, fulfilments: list[Fulfilment], wanted: int
    ) -> list[Fulfilment]:
        """`fulfilments` with their lines, leaving out those with more than `wanted` lines (they
        cannot be a shipment of `wanted` lines)."""
        first = min(MAX_PAGE, wanted + 1)
        data = await self._client.execute(
            "FulfilmentLines", FULFILMENT_LINES, {"id": order_id, "lines": first}, cost=4 + 2 * first
        )
        with expect_shape(SYSTEM, "fulfillment lines"):
            order = data["order"]
            nodes = [] if order is None else order["fulfillments"]
            lines = {str(node["id"]): fulfilment_lines_from(node) for node in nodes}
        return [replace(f, lines=found) for f in fulfilments if (found := lines.get(f.id)) is not None]

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
        wanted = merged(lines)
        live = [f for f in existing if f.status.upper() not in ("CANCELLED", "ERROR", "FAILURE")]
        if live and not tracking.number:
            live = await self._with_lines(order_id, live, len(wanted))
        for fulfilment in live:
            if same_shipment(fulfilment, tracking, wanted):
                return fulfilment
        created: list[Fulfilment] = []
        for location_lines in plan(order_id, fulfilment_orders, wanted):
            created.append(await self._create(location_lines, tracking, notify_customer))
        # One shipment from one warehouse is one location, so one fulfilment; several only if the
        # store split the order's lines across locations.
        return created[0] if len(created) == 1 else joined(created)

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
