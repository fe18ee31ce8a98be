"""Fulfilments through fulfillment orders: the queries, the types, and the pure planning.

Shopify ships fulfillment order line items, not order line items: a shipment's (line item, quantity)
pairs are taken from the open fulfillment order lines' remaining quantities (a partial shipment is a
partial fulfilment). `fulfillmentCreate` takes no external id, so a retried shipment is recognised
among the order's fulfilments by its tracking number (decision 0019). `ShopifyOrders` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.shopify.client import SYSTEM

OPEN_STATUSES = frozenset({"OPEN", "IN_PROGRESS"})  # fulfillment orders that can still ship

# Nested connections multiply in the query's requested cost (`2 + first × (1 + node cost)`, charged
# before the query runs and counted against the bucket's size): the pages ask for what one order
# usually has, and more is paged only when `pageInfo.hasNextPage` says so. An order is usually at one
# location (one fulfillment order) with a handful of lines; a shipment with a tracking number is
# recognised among the fulfilments by that number alone, so their lines are read only for a shipment
# without one (`FULFILMENT_LINES`). Measured against the simulator: 55 points (it was 632).
FULFILMENT_ORDERS_PAGE = 2
FULFILMENT_ORDER_LINES_FIRST_PAGE = 10
FULFILMENT_ORDER_LINES_PAGE = 40
FULFILMENTS_MAX = 20  # Order.fulfillments is a list, not a connection: `first` only truncates it
# The requested costs (order 1, each connection 2 + first × (1 + node cost)), the client's estimate
# before the store reports them.
FULFILMENT_STATE_COST = 1 + (2 + FULFILMENT_ORDERS_PAGE * (5 + 2 * FULFILMENT_ORDER_LINES_FIRST_PAGE)) + 2
FULFILMENT_ORDER_LINES_COST = 1 + 2 + 2 * FULFILMENT_ORDER_LINES_PAGE

FULFILMENT_STATE = (
    """
query FulfilmentState($id: ID!, $after: String) {
  order(id: $id) {
    fulfillmentOrders(first: FO_PAGE, after: $after) {
      nodes {
        id status
        assignedLocation { location { id } }
        lineItems(first: LINES_PAGE) {
          nodes { id remainingQuantity lineItem { id } }
          pageInfo { hasNextPage endCursor }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
    fulfillments(first: FULFILMENTS_MAX) { id status trackingInfo(first: 5) { number } }
  }
}
""".replace("FO_PAGE", str(FULFILMENT_ORDERS_PAGE))
    .replace("LINES_PAGE", str(FULFILMENT_ORDER_LINES_FIRST_PAGE))
    .replace("FULFILMENTS_MAX", str(FULFILMENTS_MAX))
)

FULFILMENT_ORDER_LINES = """
query FulfilmentOrderLines($id: ID!, $after: String) {
  fulfillmentOrder(id: $id) {
    lineItems(first: LINES_PAGE, after: $after) {
      nodes { id remainingQuantity lineItem { id } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
""".replace("LINES_PAGE", str(FULFILMENT_ORDER_LINES_PAGE))

# The lines of the order's fulfilments, for a shipment without a tracking number: `$lines` is one more
# than the shipment has, so a fulfilment with more lines than that (`hasNextPage`) is not the shipment.
FULFILMENT_LINES = """
query FulfilmentLines($id: ID!, $lines: Int!) {
  order(id: $id) {
    fulfillments(first: FULFILMENTS_MAX) {
      id
      fulfillmentLineItems(first: $lines) { nodes { quantity lineItem { id } } pageInfo { hasNextPage } }
    }
  }
}
""".replace("FULFILMENTS_MAX", str(FULFILMENTS_MAX))
MAX_PAGE = 250  # Shopify's largest `first`


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


def merged(lines: Sequence[tuple[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for line_item_id, quantity in lines:
        if quantity > 0:
            merged[line_item_id] = merged.get(line_item_id, 0) + quantity
    return merged


def same_shipment(fulfilment: Fulfilment, tracking: Tracking, wanted: dict[str, int]) -> bool:
    if tracking.number:
        return tracking.number in fulfilment.tracking_numbers
    return dict(fulfilment.lines) == wanted


def plan(
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


def joined(created: list[Fulfilment]) -> Fulfilment:
    return Fulfilment(
        ",".join(f.id for f in created),
        created[-1].status,
        created[0].tracking_numbers,
        tuple(line for f in created for line in f.lines),
    )


def fulfilment_order_from(node: dict[str, Any], lines: Sequence[dict[str, Any]]) -> FulfilmentOrder:
    location = (node.get("assignedLocation") or {}).get("location") or {}
    return FulfilmentOrder(
        str(node["id"]),
        str(node["status"]),
        None if location.get("id") is None else str(location["id"]),
        tuple(
            FulfilmentOrderLine(str(line["id"]), str(line["lineItem"]["id"]), int(line["remainingQuantity"]))
            for line in lines
        ),
    )


def fulfilment_from(node: dict[str, Any]) -> Fulfilment:
    """A fulfilment as the state query gives it: its tracking numbers, not its lines."""
    return Fulfilment(
        str(node["id"]),
        str(node["status"]),
        tuple(str(t["number"]) for t in node["trackingInfo"] if t.get("number")),
        (),
    )


def fulfilment_lines_from(node: dict[str, Any]) -> tuple[tuple[str, int], ...] | None:
    """A fulfilment's (line item id, quantity); None when it has more than were asked for."""
    connection = node["fulfillmentLineItems"]
    if connection["pageInfo"]["hasNextPage"]:
        return None
    return tuple((str(line["lineItem"]["id"]), int(line["quantity"])) for line in connection["nodes"])
