"""GraphQL objects and root fields for orders, fulfilment orders and fulfilments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLResolveInfo

from .connections import connection, matches, parse_search
from .ids import gid, parse_gid
from .orders import Fulfilment, LineItem, Order, OrderBook
from .state import Catalog
from .views import VariantView, location_view, stamp

Info = GraphQLResolveInfo
SORT_KEYS = {
    "ID": lambda o: [o.id],
    "CREATED_AT": lambda o: [stamp(o.created_at), o.id],
    "UPDATED_AT": lambda o: [stamp(o.updated_at), o.id],
    "PROCESSED_AT": lambda o: [stamp(o.created_at), o.id],
    "NUMBER": lambda o: [o.number],
}


def line_view(catalog: Catalog, line: LineItem) -> dict[str, Any]:
    variant = catalog.variants.get(line.variant_id) if line.variant_id is not None else None
    return {
        "id": gid("LineItem", line.id),
        "sku": line.sku,
        "name": line.title,
        "title": line.title,
        "quantity": line.quantity,
        "currentQuantity": line.current_quantity,
        "unfulfilledQuantity": line.remaining,
        "variant": None if variant is None else VariantView(catalog, variant),
    }


def _page(rows: list[Any], first: int | None, after: str | None) -> dict[str, Any]:
    indexed = list(enumerate(rows))
    return connection(indexed, lambda pair: [pair[0]], first, after, lambda pair: pair[1])


@dataclass
class FulfilmentView:
    book: OrderBook
    owner: Order
    fulfilment: Fulfilment

    @property
    def order(self) -> OrderView:
        return OrderView(self.book, self.owner)

    @property
    def id(self) -> str:
        return gid("Fulfillment", self.fulfilment.id)

    @property
    def name(self) -> str:
        return f"{self.owner.name}.{self.owner.fulfilments.index(self.fulfilment) + 1}"

    status = "SUCCESS"

    @property
    def createdAt(self) -> str | None:
        return stamp(self.fulfilment.created_at)

    def trackingInfo(self, info: Info, first: int | None = None) -> list[dict[str, Any]]:
        f = self.fulfilment
        count = max(len(f.numbers), len(f.urls), 1 if f.company else 0)
        rows = [
            {
                "company": f.company,
                "number": f.numbers[i] if i < len(f.numbers) else None,
                "url": f.urls[i] if i < len(f.urls) else None,
            }
            for i in range(count)
        ]
        return rows[:first] if first is not None else rows

    def fulfillmentLineItems(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        lines = {line.id: line for line in self.owner.line_items}
        rows = [
            {
                "id": gid("FulfillmentLineItem", lid * 1000 + n),
                "quantity": q,
                "lineItem": line_view(self.book.catalog, lines[lid]),
            }
            for n, (lid, q) in enumerate(self.fulfilment.lines)
        ]
        return _page(rows, first, after)


@dataclass
class FulfillmentOrderView:
    book: OrderBook
    order: Order

    @property
    def id(self) -> str:
        return gid("FulfillmentOrder", self.order.fulfillment_order_id)

    @property
    def status(self) -> str:
        return self.order.fulfillment_order_status()

    @property
    def orderId(self) -> str:
        return gid("Order", self.order.id)

    @property
    def assignedLocation(self) -> dict[str, Any]:
        location = self.book.catalog.locations[self.order.location_id]
        return {"name": location.name, "location": location_view(location)}

    def lineItems(self, info: Info, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        rows = [
            {
                "id": gid("FulfillmentOrderLineItem", line.fo_line_id),
                "totalQuantity": line.current_quantity,
                "remainingQuantity": line.remaining,
                "lineItem": line_view(self.book.catalog, line),
            }
            for line in self.order.line_items
        ]
        return _page(rows, first, after)


@dataclass
class OrderView:
    book: OrderBook
    order: Order

    def __getattr__(self, name: str) -> Any:
        o = self.order
        simple: dict[str, Any] = {
            "id": gid("Order", o.id),
            "name": o.name,
            "email": o.email,
            "createdAt": stamp(o.created_at),
            "updatedAt": stamp(o.updated_at),
            "cancelledAt": stamp(o.cancelled_at),
            "closed": o.cancelled_at is not None or o.fulfillment_status() == "FULFILLED",
            "displayFinancialStatus": o.financial_status,
            "displayFulfillmentStatus": o.fulfillment_status(),
            "shippingAddress": _address(o.shipping_address),
        }
        if name in simple:
            return simple[name]
        raise AttributeError(name)

    def lineItems(self, info: Info, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        return _page([line_view(self.book.catalog, line) for line in self.order.line_items], first, after)

    def shippingLines(self, info: Info, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        rows = [
            {"id": gid("ShippingLine", self.order.id * 100 + n), **s}
            for n, s in enumerate(self.order.shipping_lines)
        ]
        return _page(rows, first, after)

    def fulfillments(self, info: Info, first: int | None = None) -> list[FulfilmentView]:
        views = [FulfilmentView(self.book, self.order, f) for f in self.order.fulfilments]
        return views[:first] if first is not None else views

    def fulfillmentOrders(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        return _page([FulfillmentOrderView(self.book, self.order)], first, after)


def _address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    names = {
        "first_name": "firstName",
        "last_name": "lastName",
        "province_code": "provinceCode",
        "country_code": "countryCodeV2",
    }
    view = {names.get(k, k): v for k, v in address.items()}
    if "name" not in view and (view.get("firstName") or view.get("lastName")):
        view["name"] = " ".join(p for p in (view.get("firstName"), view.get("lastName")) if p)
    return view


def order_fields(order: Order) -> dict[str, Any]:
    """What an `orders(query:)` search can filter on."""
    return {
        "updated_at": stamp(order.updated_at),
        "created_at": stamp(order.created_at),
        "name": order.name,
        "id": str(order.id),
        "email": order.email,
        "status": "cancelled" if order.cancelled_at else "open",
        "fulfillment_status": order.fulfillment_status().lower(),
        "financial_status": order.financial_status.lower(),
    }


class OrderQueries:
    def __init__(self, book: OrderBook) -> None:
        self.book = book

    def order(self, info: Info, id: str) -> OrderView | None:
        order = self.book.orders.get(parse_gid(id, "Order") or 0)
        return None if order is None else OrderView(self.book, order)

    def orders(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        search = parse_search(query)
        known = tuple(order_fields(next(iter(self.book.orders.values()))) if self.book.orders else ())
        found = [o for o in self.book.orders.values() if matches(search, order_fields(o).get, known)]
        key = SORT_KEYS[sortKey or "ID"]
        return connection(found, key, first, after, lambda o: OrderView(self.book, o), reverse=reverse)

    def fulfillmentOrder(self, info: Info, id: str) -> FulfillmentOrderView | None:
        order = self.book.by_fulfillment_order(parse_gid(id, "FulfillmentOrder") or 0)
        return None if order is None else FulfillmentOrderView(self.book, order)
