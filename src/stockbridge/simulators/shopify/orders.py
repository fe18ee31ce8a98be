"""Orders, their fulfilment orders and fulfilments, and what each does to stock and to webhooks.

An order commits stock at its location (available down, committed up); an edit moves the commitment
with the quantity; a fulfilment takes committed (so on hand) down; a cancellation gives what was not
fulfilled back to available. Each change sends its webhooks (orders/create, orders/updated,
orders/edited, orders/cancelled, fulfillments/create).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from . import payloads
from .ids import parse_gid
from .state import Catalog


class Notifier(Protocol):
    def send(self, topic: str, body: dict[str, Any]) -> None: ...


class OrderError(ValueError):
    """A control request the store refuses (unknown order, edit below what has shipped, ...)."""


@dataclass
class LineItem:
    id: int
    fo_line_id: int  # its line on the order's fulfilment order
    sku: str
    title: str
    variant_id: int | None
    item_id: int | None
    quantity: int  # as ordered
    current_quantity: int  # after edits and cancellation
    fulfilled: int = 0

    @property
    def remaining(self) -> int:
        return max(self.current_quantity - self.fulfilled, 0)


@dataclass
class Fulfilment:
    id: int
    order_id: int
    created_at: datetime
    lines: list[tuple[int, int]]  # (line item id, quantity)
    company: str | None
    numbers: list[str]
    urls: list[str]
    notify_customer: bool


@dataclass
class Order:
    id: int
    number: int
    email: str | None
    created_at: datetime
    updated_at: datetime
    location_id: int
    fulfillment_order_id: int
    line_items: list[LineItem]
    shipping_lines: list[dict[str, Any]]
    shipping_address: dict[str, Any] | None
    financial_status: str = "PAID"
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    fulfilments: list[Fulfilment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    def fulfillment_status(self) -> str:
        shipped = sum(line.fulfilled for line in self.line_items)
        if shipped and all(line.remaining == 0 for line in self.line_items):
            return "FULFILLED"
        return "PARTIALLY_FULFILLED" if shipped else "UNFULFILLED"

    def fulfillment_order_status(self) -> str:
        shipped = any(line.fulfilled for line in self.line_items)
        if self.cancelled_at is not None:
            return "CLOSED" if shipped else "CANCELLED"
        if all(line.remaining == 0 for line in self.line_items):
            return "CLOSED"
        return "IN_PROGRESS" if shipped else "OPEN"


class OrderBook:
    def __init__(self, catalog: Catalog, notifier: Notifier) -> None:
        self.catalog = catalog
        self.notifier = notifier
        self.orders: dict[int, Order] = {}
        self.fulfilments: dict[int, Fulfilment] = {}

    def get(self, order_id: int) -> Order:
        if order_id not in self.orders:
            raise OrderError(f"order {order_id} not found")
        return self.orders[order_id]

    def by_fulfillment_order(self, fo_id: int) -> Order | None:
        return next((o for o in self.orders.values() if o.fulfillment_order_id == fo_id), None)

    # --- control-side changes -----------------------------------------------------------------------
    def place(self, body: dict[str, Any]) -> Order:
        catalog, now = self.catalog, self.catalog.clock()
        location = parse_gid(body.get("location_id"), "Location") if body.get("location_id") else 1
        if location not in catalog.locations:
            raise OrderError(f"unknown location {body.get('location_id')!r}")
        lines = [self._line(spec) for spec in body.get("line_items") or []]
        if not lines:
            raise OrderError("an order needs line_items")
        order = Order(
            catalog.next_id(),
            1001 + len(self.orders),
            body.get("email"),
            now,
            now,
            location,
            catalog.next_id(),
            lines,
            [self._shipping(s) for s in body.get("shipping_lines") or []],
            _address(body.get("shipping_address")),
            str(body.get("financial_status", "paid")).upper(),
        )
        self.orders[order.id] = order
        for line in lines:
            self._commit(order, line, line.current_quantity)
        self._notify(order, "orders/create")
        return order

    def edit(self, order_id: int, body: dict[str, Any]) -> Order:
        """`{"line_items": [{"id" | "sku", "quantity"}], "add": [{"sku", "quantity"}]}`; 0 removes."""
        order = self.get(order_id)
        if order.cancelled_at is not None:
            raise OrderError("a cancelled order cannot be edited")
        additions: list[dict[str, int]] = []
        removals: list[dict[str, int]] = []
        for change in body.get("line_items") or []:
            line = self._find_line(order, change)
            quantity = int(change["quantity"])
            if quantity < line.fulfilled:
                raise OrderError(f"line {line.id} has {line.fulfilled} fulfilled; cannot go to {quantity}")
            delta = quantity - line.current_quantity
            line.current_quantity = quantity
            self._commit(order, line, delta)
            if delta:
                (additions if delta > 0 else removals).append({"id": line.id, "delta": abs(delta)})
        for spec in body.get("add") or []:
            line = self._line(spec)
            order.line_items.append(line)
            self._commit(order, line, line.current_quantity)
            additions.append({"id": line.id, "delta": line.current_quantity})
        order.updated_at = self.catalog.clock()
        edit = payloads.order_edit(self.catalog.next_id(), order, additions, removals)
        self.notifier.send("orders/edited", edit)
        self._notify(order, "orders/updated")
        return order

    def cancel(self, order_id: int, body: dict[str, Any]) -> Order:
        order = self.get(order_id)
        if order.cancelled_at is not None:
            raise OrderError("the order is already cancelled")
        for line in order.line_items:
            self._commit(order, line, -line.remaining)
            line.current_quantity = line.fulfilled
        order.cancelled_at = order.updated_at = self.catalog.clock()
        order.cancel_reason = str(body.get("reason", "customer"))
        self._notify(order, "orders/cancelled", "orders/updated")
        return order

    # --- fulfilment (GraphQL fulfillmentCreate) ----------------------------------------------------
    def fulfil(
        self, order: Order, lines: list[tuple[LineItem, int]], tracking: dict[str, Any], notify: bool
    ) -> Fulfilment:
        now = self.catalog.clock()
        numbers = list(tracking.get("numbers") or ([tracking["number"]] if tracking.get("number") else []))
        urls = list(tracking.get("urls") or ([tracking["url"]] if tracking.get("url") else []))
        fulfilment = Fulfilment(
            self.catalog.next_id(),
            order.id,
            now,
            [(line.id, q) for line, q in lines],
            tracking.get("company"),
            numbers,
            urls,
            notify,
        )
        for line, quantity in lines:
            line.fulfilled += quantity
            if line.item_id is not None:
                self.catalog.move(line.item_id, order.location_id, committed=-quantity)
        order.fulfilments.append(fulfilment)
        self.fulfilments[fulfilment.id] = fulfilment
        order.updated_at = now
        self.notifier.send("fulfillments/create", payloads.fulfilment(fulfilment, order))
        self._notify(order, "orders/updated")
        return fulfilment

    # --- helpers ------------------------------------------------------------------------------------
    def _line(self, spec: dict[str, Any]) -> LineItem:
        sku, quantity = str(spec.get("sku") or ""), int(spec["quantity"])
        if quantity <= 0:
            raise OrderError("a line needs a positive quantity")
        variant = self.catalog.variant_by_sku(sku)
        title = str(spec.get("title") or (variant.title if variant else sku))
        item = variant.inventory_item_id if variant else None
        ids = (self.catalog.next_id(), self.catalog.next_id())
        return LineItem(*ids, sku, title, variant.id if variant else None, item, quantity, quantity)

    @staticmethod
    def _shipping(spec: dict[str, Any]) -> dict[str, Any]:
        title = str(spec["title"])
        return {"title": title, "code": spec.get("code", title), "price": str(spec.get("price", "0.00"))}

    @staticmethod
    def _find_line(order: Order, change: dict[str, Any]) -> LineItem:
        wanted = change.get("id")
        number = (
            parse_gid(wanted, "LineItem") if isinstance(wanted, str) and wanted.startswith("gid:") else wanted
        )
        for line in order.line_items:
            if (number is not None and line.id == int(number)) or (
                number is None and line.sku == change.get("sku")
            ):
                return line
        raise OrderError(f"no line {change!r} on order {order.id}")

    def _commit(self, order: Order, line: LineItem, delta: int) -> None:
        if line.item_id is not None and delta:
            self.catalog.move(line.item_id, order.location_id, available=-delta, committed=delta)

    def _notify(self, order: Order, *topics: str) -> None:
        body = payloads.order(order)
        for topic in topics:
            self.notifier.send(topic, body)


def _address(address: Any) -> dict[str, Any] | None:
    """The REST address as given, with `name` filled from first and last name as Shopify does."""
    if address is None:
        return None
    if not isinstance(address, dict):
        raise OrderError("shipping_address must be an object")
    parts = (address.get("first_name"), address.get("last_name"))
    return {"name": " ".join(p for p in parts if p) or None, **address}
