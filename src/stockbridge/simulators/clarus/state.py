"""Clarus WMS in-memory model: warehouses, stock per status, movements, events, subscriptions, and the
product master, orders and shipments (items.py, order_book.py, shipment_book.py). No I/O."""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from .items import ItemCatalog
from .movements import (
    EVENT_TYPE,
    MOVEMENT_RULES,
    MOVEMENT_TYPES,
    STATUS_ORDER,
    STATUSES,
    ClarusError,
    Event,
    Movement,
    format_time,
    invalid_field,
    parse_movement,
)
from .order_book import OrderBook, OrderEvent
from .orders import ORDER_EVENT_TYPES, ORDER_STATUS_CHANGED, ORDER_UPDATED, Order
from .poison import PoisonEvent, PoisonRequest
from .shipment_book import ShipmentBook
from .shipments import SHIPMENT_DESPATCHED, Shipment, ShipmentEvent, despatch_steps, make_shipment

__all__ = [
    "EVENT_TYPE",
    "EVENT_TYPES",
    "MOVEMENT_RULES",
    "MOVEMENT_TYPES",
    "STATUSES",
    "ClarusError",
    "ClarusState",
    "Event",
    "Movement",
    "OrderEvent",
    "ShipmentEvent",
    "Subscription",
    "format_time",
    "parse_movement",
]

_WAREHOUSE_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,32}")
EVENT_TYPES: Final = (EVENT_TYPE, *ORDER_EVENT_TYPES, SHIPMENT_DESPATCHED)


# Everything in a warehouse's sequence, webhooks and events feed.
AnyEvent = Event | OrderEvent | ShipmentEvent | PoisonEvent


@dataclass(slots=True)
class StockRow:
    quantity: int
    sequence: int


class Warehouse:
    def __init__(self, warehouse_id: str, name: str) -> None:
        self.id = warehouse_id
        self.name = name
        self.sequence = 0
        self.stock: dict[str, dict[str, StockRow]] = {}
        self.skus: list[str] = []  # sorted, for snapshot paging
        self.events: list[AnyEvent] = []
        self.events_offset = 0  # sequences <= offset were trimmed from `events`

    def quantity(self, sku: str, status: str) -> int:
        row = self.stock.get(sku, {}).get(status)
        return row.quantity if row else 0


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    secret: str
    events: tuple[str, ...]
    created_at: str

    def to_dict(self, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "created_at": self.created_at,
        }
        if with_secret:
            body["secret"] = self.secret
        return body


@dataclass(frozen=True, slots=True)
class StockPage:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    as_of_sequence: int


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[AnyEvent]
    has_more: bool
    next_after_sequence: int


def _encode_cursor(warehouse_id: str, sku: str, status: str) -> str:
    return base64.urlsafe_b64encode(f"v1|{warehouse_id}|{sku}|{status}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, warehouse_id: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, wh, sku, status = text.split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ClarusError("invalid_cursor", "cursor is not one this API issued", "cursor", 400) from None
    if version != "v1" or wh != warehouse_id or status not in STATUS_ORDER:
        raise ClarusError("invalid_cursor", "cursor belongs to another query", "cursor", 400)
    return sku, STATUS_ORDER[status]


class ClarusState:
    def __init__(
        self, warehouse_ids: Iterable[str], clock: Callable[[], datetime], event_retention: int = 1_000_000
    ) -> None:
        self.clock = clock
        self.event_retention = event_retention
        self.warehouses: dict[str, Warehouse] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._next_subscription = 1
        self.items = ItemCatalog()
        self.orders = OrderBook(self.warehouses, self.items)
        self.shipments = ShipmentBook()
        for warehouse_id in warehouse_ids:
            self.add_warehouse(warehouse_id, f"Clarus warehouse {warehouse_id}")

    def now(self) -> str:
        return format_time(self.clock())

    def add_warehouse(self, warehouse_id: str, name: str) -> Warehouse:
        if not _WAREHOUSE_ID.fullmatch(warehouse_id):
            raise invalid_field("id", "must be 1..32 characters of letters, digits, '-' or '_'")
        if warehouse_id in self.warehouses:
            raise ClarusError("conflict", f"warehouse {warehouse_id} already exists", "id", 409)
        warehouse = self.warehouses[warehouse_id] = Warehouse(warehouse_id, name)
        return warehouse

    def warehouse(self, warehouse_id: str, field: str = "warehouse_id") -> Warehouse:
        warehouse = self.warehouses.get(warehouse_id)
        if warehouse is None:
            raise ClarusError("unknown_warehouse", f"no warehouse {warehouse_id!r}", field, 404)
        return warehouse

    def apply(self, m: Movement) -> list[Event]:
        """Apply one movement atomically; return one event per warehouse it changed."""
        source = self.warehouse(m.warehouse_id)
        target = self.warehouse(m.to_warehouse_id, "to_warehouse_id") if m.to_warehouse_id else None
        # Planned absolute quantities, per warehouse, then status; nothing changes until all are valid.
        plan: dict[str, dict[str, int]] = {source.id: {}}
        if m.movement_type == "count":
            assert m.to_status is not None
            assert m.counted_quantity is not None
            quantity = m.counted_quantity - source.quantity(m.sku, m.to_status)
            plan[source.id][m.to_status] = m.counted_quantity
        else:
            assert m.quantity is not None
            quantity = m.quantity
            if m.from_status is not None:
                have = source.quantity(m.sku, m.from_status)
                if have < quantity:
                    raise ClarusError(
                        "insufficient_stock",
                        f"{m.movement_type} of {quantity} {m.sku} from {m.from_status} at {source.id} "
                        f"would go negative: only {have}",
                        "quantity",
                    )
                plan[source.id][m.from_status] = have - quantity
            if m.to_status is not None:
                plan[source.id][m.to_status] = source.quantity(m.sku, m.to_status) + quantity
            if m.movement_type == "transfer_in":
                assert target is not None
                plan[target.id] = {"available": target.quantity(m.sku, "available") + quantity}
        occurred_at = format_time(self.clock())
        events = []
        for warehouse_id, balances in plan.items():
            warehouse = self.warehouses[warehouse_id]
            incoming = warehouse is target and m.movement_type == "transfer_in"
            events.append(
                self._commit(
                    warehouse,
                    m,
                    balances,
                    Event(
                        warehouse_id=warehouse_id,
                        sequence=warehouse.sequence + 1,
                        occurred_at=occurred_at,
                        movement_type=m.movement_type,
                        sku=m.sku,
                        quantity=quantity,
                        from_status=None if incoming else m.from_status,
                        to_status="available" if incoming else m.to_status,
                        balances=tuple(sorted(balances.items(), key=lambda kv: STATUS_ORDER[kv[0]])),
                        reference=m.reference,
                        counted_quantity=m.counted_quantity,
                        from_warehouse_id=source.id if target else None,
                        to_warehouse_id=m.to_warehouse_id,
                    ),
                )
            )
        return events

    def _commit(self, warehouse: Warehouse, m: Movement, balances: dict[str, int], event: Event) -> Event:
        warehouse.sequence = event.sequence
        rows = warehouse.stock.get(m.sku)
        if rows is None:
            rows = warehouse.stock[m.sku] = {}
            bisect.insort(warehouse.skus, m.sku)
        for status, quantity in balances.items():
            rows[status] = StockRow(quantity, event.sequence)
        self._append(warehouse, event)
        return event

    def seed_stock(self, warehouse_id: str, rows: Iterable[tuple[str, str, int]]) -> int:
        """Opening stock set in bulk, without movements or events (a warehouse that held stock before
        anyone listened): each row as of the warehouse's current sequence, so a later movement of the
        SKU is newer and the events feed is unchanged. Returns the rows set."""
        warehouse = self.warehouse(warehouse_id)
        parsed: list[tuple[str, str, int]] = []
        for sku, status, quantity in rows:
            if not isinstance(sku, str) or not sku:
                raise invalid_field("sku", "must be a non-empty string")
            if status not in STATUS_ORDER:
                raise invalid_field("status", f"must be one of {', '.join(STATUSES)}")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                raise invalid_field("quantity", "must be an integer >= 0")
            parsed.append((sku, status, quantity))
        new: list[str] = []
        for sku, status, quantity in parsed:  # nothing changes until every row is valid
            stock = warehouse.stock.get(sku)
            if stock is None:
                stock = warehouse.stock[sku] = {}
                new.append(sku)
            stock[status] = StockRow(quantity, warehouse.sequence)
        if new:
            # One sort of two sorted runs (linear), where an insort per SKU would be quadratic.
            new.sort()
            warehouse.skus.extend(new)
            if len(warehouse.skus) > len(new) and warehouse.skus[-len(new) - 1] > new[0]:
                warehouse.skus.sort()
        return len(parsed)

    def order_event(self, event_type: str, order: Order, previous_status: str | None) -> OrderEvent:
        """Record an order event in the order's warehouse sequence, at the order's `updated_at`."""
        warehouse = self.warehouses[order.warehouse_id]
        event = OrderEvent(
            event_type,
            warehouse.id,
            warehouse.sequence + 1,
            order.updated_at,
            order.reference,
            order.status,
            previous_status,
            order.version,
        )
        self._append(warehouse, event)
        return event

    def despatch(self, reference: str, raw: object) -> tuple[Shipment, list[AnyEvent]]:
        """Pick, pack and despatch (part of) an order atomically: checked completely first, then each
        status change, the `shipment.despatched` event and the order's last change take a sequence."""
        order = self.orders.get(reference)
        request, lines, shipment_id = self.shipments.prepare(order, raw)
        now = self.now()
        *steps, last = despatch_steps(order, lines, shipment_id, now)
        events: list[AnyEvent] = []
        previous = order
        for step in steps:
            self.orders.replace(step, previous)
            events.append(self.order_event(ORDER_STATUS_CHANGED, step, previous.status))
            previous = step
        warehouse = self.warehouses[order.warehouse_id]
        shipment = make_shipment(request, order, shipment_id, lines, now, warehouse.sequence + 1)
        self.shipments.add(shipment)
        events.append(ShipmentEvent(shipment))
        self._append(warehouse, events[-1])
        self.orders.replace(last, previous)
        kind = ORDER_STATUS_CHANGED if last.status != previous.status else ORDER_UPDATED
        events.append(self.order_event(kind, last, previous.status))
        return shipment, events

    def poison(self, request: PoisonRequest) -> PoisonEvent:
        """Record an event no consumer can use (poison.py) in the warehouse's sequence; stock is unchanged."""
        warehouse_id = request.warehouse_id or next(iter(self.warehouses), None)
        if warehouse_id is None:
            raise ClarusError("unknown_warehouse", "there is no warehouse", "warehouse_id", 404)
        warehouse = self.warehouse(warehouse_id)
        event = PoisonEvent(
            request.kind, warehouse.id, warehouse.sequence + 1, self.now(), request.sku, request.quantity
        )
        self._append(warehouse, event)
        return event

    def _append(self, warehouse: Warehouse, event: AnyEvent) -> None:
        warehouse.sequence = event.sequence
        warehouse.events.append(event)
        excess = len(warehouse.events) - self.event_retention
        if excess > max(1, self.event_retention // 4):  # trim in chunks: del is O(n)
            del warehouse.events[:excess]
            warehouse.events_offset += excess

    def stock_page(
        self, warehouse_id: str, limit: int, cursor: str | None = None, sku: str | None = None
    ) -> StockPage:
        warehouse = self.warehouse(warehouse_id)
        skus: list[str] = warehouse.skus
        if sku is not None:
            skus = [sku] if sku in warehouse.stock else []
        index, after_status = 0, -1
        if cursor:
            after_sku, after_status = _decode_cursor(cursor, warehouse_id)
            index = bisect.bisect_left(skus, after_sku)
            if index < len(skus) and skus[index] != after_sku:
                after_status = -1
        rows: list[dict[str, Any]] = []
        last: tuple[str, str] | None = None
        while index < len(skus):
            current = skus[index]
            statuses = sorted(warehouse.stock[current].items(), key=lambda kv: STATUS_ORDER[kv[0]])
            for status, row in statuses:
                if STATUS_ORDER[status] <= after_status:
                    continue
                if len(rows) == limit:
                    assert last is not None
                    return StockPage(rows, _encode_cursor(warehouse_id, *last), warehouse.sequence)
                rows.append(
                    {
                        "warehouse_id": warehouse_id,
                        "sku": current,
                        "status": status,
                        "quantity": row.quantity,
                        "sequence": row.sequence,
                    }
                )
                last = (current, status)
            index, after_status = index + 1, -1
        return StockPage(rows, None, warehouse.sequence)

    def events_after(
        self, warehouse_id: str, after_sequence: int, limit: int, types: frozenset[str] | None = None
    ) -> EventsPage:
        """Events after a sequence; with `types`, only those types (others are skipped, not returned)."""
        warehouse = self.warehouse(warehouse_id)
        if after_sequence < warehouse.events_offset:
            raise ClarusError(
                "events_expired",
                f"events up to sequence {warehouse.events_offset} are no longer retained; "
                "take a stock snapshot and continue from its as_of_sequence",
                "after_sequence",
                410,
            )
        if after_sequence > warehouse.sequence:
            raise ClarusError(
                "sequence_ahead",
                f"after_sequence {after_sequence} is ahead of {warehouse.id}'s sequence {warehouse.sequence}",
                "after_sequence",
                409,
            )
        start = after_sequence - warehouse.events_offset
        if types is None:
            events = warehouse.events[start : start + limit]
            last = events[-1].sequence if events else after_sequence
            return EventsPage(events, last < warehouse.sequence, last)
        if not types <= set(EVENT_TYPES):
            message = f"types must be a comma-separated list of {', '.join(EVENT_TYPES)}"
            raise ClarusError("invalid_parameter", message, "types", 400)
        # Scan at most 100 x limit events, so a rare type cannot make one request walk the whole history.
        matched: list[AnyEvent] = []
        scanned = warehouse.events[start : start + 100 * limit]
        last = after_sequence
        for event in scanned:
            if event.type in types:
                if len(matched) == limit:
                    break
                matched.append(event)
            last = event.sequence
        return EventsPage(matched, last < warehouse.sequence, last)

    def stock_view(self) -> dict[str, Any]:
        view: dict[str, Any] = {}
        for warehouse in self.warehouses.values():
            stock: dict[str, dict[str, int]] = {}
            for sku in warehouse.skus:
                nonzero = {s: r.quantity for s, r in warehouse.stock[sku].items() if r.quantity}
                if nonzero:
                    stock[sku] = dict(sorted(nonzero.items(), key=lambda kv: STATUS_ORDER[kv[0]]))
            view[warehouse.id] = {"name": warehouse.name, "sequence": warehouse.sequence, "stock": stock}
        return {"warehouses": view}

    def add_subscription(self, url: object, secret: object, events: object = None) -> Subscription:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise invalid_field("url", "must be an absolute http(s) URL")
        if not isinstance(secret, str) or not 0 < len(secret) <= 256:
            raise invalid_field("secret", "must be a string of 1..256 characters")
        if events is None:
            events = [EVENT_TYPE]
        if not isinstance(events, list) or not events or not all(e in EVENT_TYPES for e in events):
            raise invalid_field("events", f"must be a non-empty list of {', '.join(EVENT_TYPES)}")
        assert isinstance(url, str)
        subscription = Subscription(
            f"wh_{self._next_subscription}",
            url,
            secret,
            tuple(dict.fromkeys(events)),
            format_time(self.clock()),
        )
        self._next_subscription += 1
        self.subscriptions[subscription.id] = subscription
        return subscription

    def delete_subscription(self, subscription_id: str) -> None:
        if self.subscriptions.pop(subscription_id, None) is None:
            raise ClarusError("not_found", f"no webhook {subscription_id!r}", None, 404)
