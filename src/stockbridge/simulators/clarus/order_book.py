"""Clarus orders in memory: keyed by reference, paged by (updated_at, reference); order events. Pure."""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .items import ItemCatalog
from .movements import ClarusError, format_time
from .orders import (
    ORDER_STATUSES,
    Order,
    OrderConflict,
    OrderRules,
    advanced,
    amended,
    cancelled,
    create_reference,
    ensure_editable,
    new_order,
    parse_amendment,
)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """`order.status_changed` or `order.updated`; shares the warehouse's sequence with movements."""

    type: str
    warehouse_id: str
    sequence: int
    occurred_at: str
    reference: str
    status: str
    previous_status: str | None
    order_version: int

    @property
    def id(self) -> str:
        return f"evt_{self.warehouse_id}_{self.sequence:012d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.occurred_at,
            "data": {
                "warehouse_id": self.warehouse_id,
                "sequence": self.sequence,
                "occurred_at": self.occurred_at,
                "reference": self.reference,
                "status": self.status,
                "previous_status": self.previous_status,
                "order_version": self.order_version,
            },
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class OrderPage:
    orders: list[Order]
    next_cursor: str | None


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"o1|{key[0]}|{key[1]}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        version, updated_at, reference = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|", 2)
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        version, updated_at, reference = "", "", ""
    if version != "o1":
        raise ClarusError("invalid_cursor", "cursor is not one this API issued", "cursor", 400)
    return updated_at, reference


def parse_updated_after(raw: str) -> str:
    """An ISO-8601 instant (naive = UTC) in the API's own timestamp format, which sorts as text."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ClarusError(
            "invalid_parameter",
            "updated_after must be an ISO-8601 time such as 2026-11-26T03:30:00Z (URL-encode a '+')",
            "updated_after",
            400,
        ) from None
    return format_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


class OrderBook:
    def __init__(self, warehouses: Container[str], items: ItemCatalog) -> None:
        self._warehouses = warehouses  # the state's live warehouse dict
        self._items = items
        self.orders: dict[str, Order] = {}
        self._keys: list[tuple[str, str]] = []  # (updated_at, reference), sorted

    def rules(self, ship_methods: Sequence[str]) -> OrderRules:
        return OrderRules(self._warehouses, self._items, ship_methods)

    def get(self, reference: str) -> Order:
        order = self.orders.get(reference)
        if order is None:
            raise ClarusError("not_found", f"no order {reference!r}", None, 404)
        return order

    def create(self, raw: object, ship_methods: Sequence[str], now: str) -> Order:
        """Validate and store a new order; 409 `duplicate_reference` (with the order) if it exists."""
        existing = self.orders.get(create_reference(raw))
        if existing is not None:
            raise OrderConflict(
                "duplicate_reference",
                f"order {existing.reference!r} already exists (answered as `order`); nothing was created",
                existing,
                "reference",
            )
        order = new_order(raw, self.rules(ship_methods), now)
        self._store(order, None)
        return order

    def amend(self, reference: str, raw: object, ship_methods: Sequence[str], now: str) -> tuple[Order, bool]:
        """Apply a PATCH; (order, changed). Locked/cancelled orders are refused before the body is read."""
        order = self.get(reference)
        ensure_editable(order)
        changed = amended(order, parse_amendment(raw, self.rules(ship_methods)), now)
        if changed is None:
            return order, False
        self._store(changed, order)
        return changed, True

    def cancel(self, reference: str, now: str) -> tuple[Order, str | None]:
        """Cancel; (order, previous status) or (order, None) when it already was cancelled."""
        order = self.get(reference)
        changed = cancelled(order, now)
        if changed is None:
            return order, None
        self._store(changed, order)
        return changed, order.status

    def advance(self, reference: str, target: object, now: str) -> tuple[Order, str | None]:
        order = self.get(reference)
        changed = advanced(order, target, now)
        if changed is None:
            return order, None
        self._store(changed, order)
        return changed, order.status

    def page(
        self,
        limit: int,
        cursor: str | None = None,
        status: str | None = None,
        updated_after: str | None = None,
        warehouse_id: str | None = None,
    ) -> OrderPage:
        if status is not None and status not in ORDER_STATUSES:
            message = f"status must be one of {', '.join(ORDER_STATUSES)}"
            raise ClarusError("invalid_parameter", message, "status", 400)
        keys, start = self._keys, 0
        if updated_after is not None:
            start = bisect.bisect_right(keys, parse_updated_after(updated_after), key=lambda k: k[0])
        if cursor:
            start = max(start, bisect.bisect_right(keys, _decode_cursor(cursor)))
        found: list[Order] = []
        for index in range(start, len(keys)):
            order = self.orders[keys[index][1]]
            if (status is None or order.status == status) and (
                warehouse_id is None or order.warehouse_id == warehouse_id
            ):
                if len(found) == limit:
                    last = found[-1]
                    return OrderPage(found, _encode_cursor((last.updated_at, last.reference)))
                found.append(order)
        return OrderPage(found, None)

    def dump(self) -> dict[str, Any]:
        return {reference: self.orders[reference].to_dict() for reference in sorted(self.orders)}

    def replace(self, changed: Order, previous: Order) -> None:
        """Store a new version of an existing order (a despatch step); the caller has validated it."""
        self._store(changed, previous)

    def _store(self, order: Order, previous: Order | None) -> None:
        if previous is not None:
            old = (previous.updated_at, previous.reference)
            index = bisect.bisect_left(self._keys, old)
            if index < len(self._keys) and self._keys[index] == old:
                del self._keys[index]
        self.orders[order.reference] = order
        bisect.insort(self._keys, (order.updated_at, order.reference))
