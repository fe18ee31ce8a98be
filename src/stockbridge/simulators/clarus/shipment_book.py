"""Clarus shipments in memory: keyed by shipment_id, paged by (despatched_at, shipment_id). Pure."""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass
from typing import Any

from .movements import ClarusError
from .order_book import parse_updated_after
from .orders import Order
from .shipments import (
    DespatchRequest,
    Shipment,
    ShipmentConflict,
    ShipmentLine,
    despatch_shipment_id,
    ensure_despatchable,
    parse_despatch,
    shipment_lines,
)


@dataclass(frozen=True, slots=True)
class ShipmentPage:
    shipments: list[Shipment]
    next_cursor: str | None


def _encode_cursor(key: tuple[str, str]) -> str:
    return base64.urlsafe_b64encode(f"s1|{key[0]}|{key[1]}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        version, despatched_at, shipment_id = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|", 2)
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        version, despatched_at, shipment_id = "", "", ""
    if version != "s1":
        raise ClarusError("invalid_cursor", "cursor is not one this API issued", "cursor", 400)
    return despatched_at, shipment_id


class ShipmentBook:
    def __init__(self) -> None:
        self.shipments: dict[str, Shipment] = {}
        self._keys: list[tuple[str, str]] = []  # (despatched_at, shipment_id), sorted
        self._generated = 0

    def get(self, shipment_id: str) -> Shipment:
        shipment = self.shipments.get(shipment_id)
        if shipment is None:
            raise ClarusError("not_found", f"no shipment {shipment_id!r}", None, 404)
        return shipment

    def ensure_new(self, shipment_id: str) -> None:
        """409 `duplicate_shipment` (answering the existing shipment) if the id is taken."""
        existing = self.shipments.get(shipment_id)
        if existing is not None:
            raise ShipmentConflict(existing)

    def prepare(self, order: Order, raw: object) -> tuple[DespatchRequest, tuple[ShipmentLine, ...], str]:
        """Check a despatch of `order` completely, first error wins: the body's shape and `shipment_id`,
        a taken `shipment_id` (409), the order's status (409), the other fields, then the lines against
        what is left. Answers the request, the shipment's lines and its id (given or generated)."""
        shipment_id = despatch_shipment_id(raw)
        if shipment_id is not None:
            self.ensure_new(shipment_id)
        ensure_despatchable(order)
        request = parse_despatch(raw)
        lines = shipment_lines(order, request.lines)
        return request, lines, shipment_id or self.next_id()

    def next_id(self) -> str:
        """The next free generated id, `SHP-000001` onwards, skipping ids clients chose themselves."""
        while True:
            self._generated += 1
            shipment_id = f"SHP-{self._generated:06d}"
            if shipment_id not in self.shipments:
                return shipment_id

    def add(self, shipment: Shipment) -> None:
        self.ensure_new(shipment.shipment_id)
        self.shipments[shipment.shipment_id] = shipment
        bisect.insort(self._keys, (shipment.despatched_at, shipment.shipment_id))

    def page(
        self,
        limit: int,
        cursor: str | None = None,
        reference: str | None = None,
        updated_after: str | None = None,
        warehouse_id: str | None = None,
    ) -> ShipmentPage:
        """Shipments in (despatched_at, shipment_id) order; a shipment never changes, so `updated_after`
        compares with `despatched_at`."""
        keys, start = self._keys, 0
        if updated_after is not None:
            start = bisect.bisect_right(keys, parse_updated_after(updated_after), key=lambda k: k[0])
        if cursor:
            start = max(start, bisect.bisect_right(keys, _decode_cursor(cursor)))
        found: list[Shipment] = []
        for index in range(start, len(keys)):
            shipment = self.shipments[keys[index][1]]
            if (reference is None or shipment.reference == reference) and (
                warehouse_id is None or shipment.warehouse_id == warehouse_id
            ):
                if len(found) == limit:
                    last = found[-1]
                    return ShipmentPage(found, _encode_cursor((last.despatched_at, last.shipment_id)))
                found.append(shipment)
        return ShipmentPage(found, None)

    def dump(self) -> dict[str, Any]:
        return {shipment_id: self.shipments[shipment_id].to_dict() for shipment_id in sorted(self.shipments)}
