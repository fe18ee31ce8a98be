"""Orders: placing them (control API), and Magento's rules for ship, cancel, hold and unhold.

Error wording follows Magento 2.4's `ShipOrder` (a `DocumentValidationException` joining its
validators' messages under "Shipment Document Validation Error(s):"), `OrderManagement::cancel`
(answers false, not an error, when the order cannot be cancelled) and `hold`/`unhold`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import count
from typing import Any

from .errors import REQUESTED_ENTITY_MISSING, MagentoError, bad_request
from .state import (
    BUNDLE,
    CANCELED,
    CLOSED,
    COMPLETE,
    CONFIGURABLE,
    HOLDED,
    PAYMENT_REVIEW,
    PROCESSING,
    SIMPLE,
    STATES,
    Item,
    Order,
    Shipment,
    Track,
)

SHIP_REFUSED = "Shipment Document Validation Error(s):\n"
CANNOT_SHIP = SHIP_REFUSED + "The order does not allow a shipment to be created."
NO_PRODUCTS = SHIP_REFUSED + "You can't create a shipment without products."
# Magento's sentence names no product; the simulator adds the SKU as %1 (Simplified).
OVER_SHIPPED = (
    SHIP_REFUSED + "The quantity to ship must not be greater than the unshipped quantity for the product %1."
)
REQUIRED = '"%fieldName" is required. Enter and try again.'
TYPE_INVALID = 'The "%1" value\'s type is invalid. The "%2" type was expected.'
NOT_SHIPPABLE_STATES = frozenset({HOLDED, CANCELED, CLOSED, COMPLETE, PAYMENT_REVIEW})


class OrderBook:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.orders: dict[int, Order] = {}
        self._order_ids = count(1)
        self._item_ids = count(1)
        self._shipment_ids = count(1)
        self._track_ids = count(1)

    def get(self, order_id: int) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise MagentoError(404, REQUESTED_ENTITY_MISSING)
        return order

    # --- placing (control API) -------------------------------------------------------------------
    def place(self, spec: dict[str, Any]) -> Order:
        """`{"items": [...], "email"?, "shipping_description"?, "shipping_method"?, "address"?,
        "state"?, "status"?, "increment_id"?, "created_at"?, "updated_at"?}`; an item is
        `{"sku", "qty"}` (a simple), `{"bundle": SKU, "qty", "components": [{"sku", "qty"}]}` (qty per
        bundle) or `{"configurable": SKU, "sku": simple SKU, "qty"}`."""
        entity_id = next(self._order_ids)
        now = self.clock()
        state = str(spec.get("state", PROCESSING))
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        address = dict(spec.get("address") or {})
        order = Order(
            entity_id=entity_id,
            increment_id=str(spec.get("increment_id") or f"{entity_id:09d}"),
            state=state,
            status=str(spec.get("status", "pending" if state == "new" else state)),
            created_at=_when(spec.get("created_at"), now),
            updated_at=_when(spec.get("updated_at"), now),
            email=str(spec.get("email", "customer@example.com")),
            firstname=str(address.get("firstname", "Ada")),
            lastname=str(address.get("lastname", "Lovelace")),
            shipping_description=str(spec.get("shipping_description", "Flat Rate - Fixed")),
            shipping_method=str(spec.get("shipping_method", "flatrate_flatrate")),
            address=address,
            payment_method=str(spec.get("payment_method", "checkmo")),
        )
        items = spec.get("items")
        if not isinstance(items, list) or not items:
            raise ValueError("items must be a non-empty list")
        for line in items:
            self._add_line(order, line)
        self.orders[entity_id] = order
        return order

    def _add_line(self, order: Order, line: dict[str, Any]) -> None:
        qty = float(line["qty"])
        if qty <= 0:
            raise ValueError("qty must be positive")
        price = float(line.get("price", 10.0))
        if "bundle" in line:
            parent = self._item(order, str(line["bundle"]), BUNDLE, qty, price)
            components = line.get("components") or []
            if not components:
                raise ValueError("a bundle needs components")
            for component in components:
                per_bundle = float(component["qty"])
                self._item(order, str(component["sku"]), SIMPLE, qty * per_bundle, 0.0, parent)
        elif "configurable" in line:
            name = str(line["configurable"])
            parent = self._item(order, str(line["sku"]), CONFIGURABLE, qty, price, name=name)
            self._item(order, str(line["sku"]), SIMPLE, qty, 0.0, parent)
        else:
            self._item(order, str(line["sku"]), SIMPLE, qty, price)

    def _item(
        self,
        order: Order,
        sku: str,
        kind: str,
        qty: float,
        price: float,
        parent: Item | None = None,
        *,
        name: str | None = None,
    ) -> Item:
        item = Item(
            next(self._item_ids),
            order.entity_id,
            sku,
            name or sku,
            kind,
            qty,
            price,
            None if parent is None else parent.item_id,
        )
        order.items.append(item)
        return item

    def touch(self, order: Order) -> None:
        order.updated_at = self.clock()

    # --- POST /V1/order/{orderId}/ship -----------------------------------------------------------
    def ship(self, order_id: int, body: dict[str, Any]) -> Shipment:
        order = self.get(order_id)
        if order.state in NOT_SHIPPABLE_STATES or not any(
            order.ships_itself(i) and i.remaining > 0 for i in order.items
        ):
            raise bad_request(CANNOT_SHIP)
        wanted = _requested(body.get("items"))
        tracks = _tracks(body.get("tracks"))
        plan: dict[int, float] = {}
        for item in order.items:
            if not order.ships_itself(item):
                continue  # a dummy: Magento computes it from the item that ships
            qty = item.remaining if not wanted else wanted.get(item.item_id, 0.0)
            if qty <= 0:
                continue
            if qty > item.remaining + 1e-9:
                raise bad_request(OVER_SHIPPED, [item.sku])
            plan[item.item_id] = qty
        if not plan:
            raise bad_request(NO_PRODUCTS)
        shipped = self._apply(order, plan)
        shipment = Shipment(
            next(self._shipment_ids),
            "",
            order.entity_id,
            shipped,
            [Track(next(self._track_ids), *t) for t in tracks],
            self.clock(),
            bool(body.get("notify", False)),
        )
        shipment.increment_id = f"{shipment.entity_id:09d}"
        order.shipments.append(shipment)
        if not any(order.ships_itself(i) and i.remaining > 0 for i in order.items):
            order.state = order.status = COMPLETE
        self.touch(order)
        return shipment

    def _apply(self, order: Order, plan: dict[int, float]) -> list[tuple[int, float]]:
        shipped: list[tuple[int, float]] = []
        for item in order.items:
            qty = plan.get(item.item_id)
            if qty is None:
                continue
            item.qty_shipped += qty
            shipped.append((item.item_id, qty))
            if item.product_type == CONFIGURABLE:
                for child in order.children(item):
                    child.qty_shipped += qty
                    shipped.append((child.item_id, qty))
        for parent in (i for i in order.items if i.product_type == BUNDLE):
            children = order.children(parent)
            whole = min(c.qty_shipped / (c.qty_ordered / parent.qty_ordered) for c in children)
            parent.qty_shipped = float(int(whole + 1e-9))
        return shipped

    # --- cancel, hold, unhold --------------------------------------------------------------------
    def cancel(self, order_id: int) -> bool:
        """True when cancelled; false (not an error) when the order cannot be (Magento's answer)."""
        order = self.get(order_id)
        if order.state in NOT_SHIPPABLE_STATES or not any(i.remaining > 0 for i in order.items):
            return False
        for item in order.items:
            item.qty_canceled = item.qty_ordered - item.qty_shipped
        order.state = order.status = CANCELED
        self.touch(order)
        return True

    def hold(self, order_id: int) -> bool:
        order = self.get(order_id)
        if order.state in NOT_SHIPPABLE_STATES:
            raise bad_request("A hold action is not available.")
        order.hold_before = (order.state, order.status)
        order.state = order.status = HOLDED
        self.touch(order)
        return True

    def unhold(self, order_id: int) -> bool:
        order = self.get(order_id)
        if order.state != HOLDED or order.hold_before is None:
            raise bad_request("You can't remove the hold.")
        order.state, order.status = order.hold_before
        order.hold_before = None
        self.touch(order)
        return True


def _requested(items: Any) -> dict[int, float]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise bad_request(TYPE_INVALID, ["items", "array"])
    wanted: dict[int, float] = {}
    for entry in items:
        if not isinstance(entry, dict) or "order_item_id" not in entry or "qty" not in entry:
            raise bad_request(REQUIRED, {"fieldName": "order_item_id"})
        try:
            item_id, qty = int(entry["order_item_id"]), float(entry["qty"])
        except (TypeError, ValueError):
            raise bad_request("The qty value is invalid.") from None  # UNCONFIRMED wording
        wanted[item_id] = wanted.get(item_id, 0.0) + qty
    return wanted


def _tracks(tracks: Any) -> list[tuple[str, str, str]]:
    found = []
    for track in tracks or []:
        if not isinstance(track, dict):
            raise bad_request(REQUIRED, {"fieldName": "track_number"})
        for key in ("track_number", "title", "carrier_code"):
            if not str(track.get(key) or "").strip():
                raise bad_request(REQUIRED, {"fieldName": key})
        found.append((str(track["track_number"]), str(track["title"]), str(track["carrier_code"])))
    return found


def _when(value: Any, default: datetime) -> datetime:
    if value is None:
        return default
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=default.tzinfo)
