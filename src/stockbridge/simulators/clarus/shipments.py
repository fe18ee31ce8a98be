"""Clarus shipments: pick, pack and despatch of an order, the shipment value, its event. Pure.

Storage and paging are in shipment_book.py; applying a despatch to the state in state.py; HTTP in
shipments_api.py. Shapes follow ShipHero's `Shipment Update` and Peoplevox's despatch event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from .movements import ClarusError, invalid_field
from .orders import (
    FLOW,
    MAX_LINES,
    Order,
    OrderConflict,
    check_line_quantity,
    check_line_ref,
    check_reference,
)

SHIPMENT_DESPATCHED: Final = "shipment.despatched"
DESPATCHABLE: Final = frozenset({"released", "allocated", "picking", "packed", "partially_despatched"})
IMPLICIT_STEPS: Final = ("picking", "packed")  # statuses a despatch walks through before it ships
DEFAULT_CARRIER: Final = "UPS"
DESPATCH_FIELDS: Final = frozenset(
    {"shipment_id", "lines", "carrier", "service", "tracking_numbers", "weight_kg"}
)
DESPATCH_LINE_FIELDS: Final = frozenset({"line_ref", "quantity"})
MAX_CARRIER: Final = 50
MAX_TRACKING_NUMBERS: Final = 20
MAX_TRACKING_NUMBER: Final = 64
MAX_WEIGHT_KG: Final = 100_000


class ShipmentConflict(ClarusError):
    """409 `duplicate_shipment`, answering the existing shipment so a retrying client can see it."""

    def __init__(self, shipment: Shipment) -> None:
        message = f"shipment {shipment.shipment_id!r} already exists (answered as `shipment`)"
        super().__init__("duplicate_shipment", message, "shipment_id", 409)
        self.shipment = shipment

    def response_body(self) -> dict[str, Any]:
        return {"error": self.to_dict(), "shipment": self.shipment.to_dict()}


@dataclass(frozen=True, slots=True)
class ShipmentLine:
    line_ref: str
    sku: str
    quantity: int

    def to_dict(self) -> dict[str, Any]:
        return {"line_ref": self.line_ref, "sku": self.sku, "quantity": self.quantity}


@dataclass(frozen=True, slots=True)
class Shipment:
    """One despatch (a parcel or a set of parcels leaving together); never changes once made."""

    shipment_id: str
    reference: str
    warehouse_id: str
    carrier: str
    service: str
    tracking_numbers: tuple[str, ...]
    weight_kg: float | None
    lines: tuple[ShipmentLine, ...]
    despatched_at: str
    sequence: int  # the warehouse sequence of its `shipment.despatched` event

    def to_dict(self) -> dict[str, Any]:
        return {
            "shipment_id": self.shipment_id,
            "reference": self.reference,
            "warehouse_id": self.warehouse_id,
            "carrier": self.carrier,
            "service": self.service,
            "tracking_numbers": list(self.tracking_numbers),
            "weight_kg": self.weight_kg,
            "lines": [line.to_dict() for line in self.lines],
            "despatched_at": self.despatched_at,
            "sequence": self.sequence,
        }


@dataclass(frozen=True, slots=True)
class ShipmentEvent:
    """`shipment.despatched`: the whole shipment, in the order's warehouse sequence."""

    shipment: Shipment

    @property
    def warehouse_id(self) -> str:
        return self.shipment.warehouse_id

    @property
    def sequence(self) -> int:
        return self.shipment.sequence

    @property
    def type(self) -> str:
        return SHIPMENT_DESPATCHED

    @property
    def id(self) -> str:
        return f"evt_{self.warehouse_id}_{self.sequence:012d}"

    def to_dict(self) -> dict[str, Any]:
        s = self.shipment
        return {
            "id": self.id,
            "type": SHIPMENT_DESPATCHED,
            "created_at": s.despatched_at,
            "data": {
                "warehouse_id": s.warehouse_id,
                "sequence": s.sequence,
                "occurred_at": s.despatched_at,
                "shipment_id": s.shipment_id,
                "reference": s.reference,
                "carrier": s.carrier,
                "service": s.service,
                "tracking_numbers": list(s.tracking_numbers),
                "weight_kg": s.weight_kg,
                "lines": [line.to_dict() for line in s.lines],
            },
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class DespatchRequest:
    """A validated despatch body; None: not given (defaults are filled in against the order)."""

    shipment_id: str | None = None
    lines: tuple[tuple[str, int], ...] | None = None  # (line_ref, quantity), request order
    carrier: str = DEFAULT_CARRIER
    service: str | None = None
    tracking_numbers: tuple[str, ...] | None = None
    weight_kg: float | None = None


def _text(value: object, field: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len or not value.isprintable():
        raise invalid_field(field, f"must be a non-blank string of at most {max_len} printable characters")
    return value


def _despatch_lines(raw: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(raw, list) or not raw:
        raise invalid_field(
            "lines", "must be a non-empty list of lines (omit it to despatch everything left)"
        )
    if len(raw) > MAX_LINES:
        raise invalid_field("lines", f"at most {MAX_LINES} lines")
    lines: list[tuple[str, int]] = []
    seen: set[str] = set()
    for i, line in enumerate(raw):
        where = f"lines[{i}]"
        line_ref = check_line_ref(line, where, DESPATCH_LINE_FIELDS, seen)
        assert isinstance(line, dict)
        lines.append((line_ref, check_line_quantity(line.get("quantity"), where)))
    return tuple(lines)


def _tracking_numbers(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_TRACKING_NUMBERS:
        raise invalid_field("tracking_numbers", f"must be a list of 1..{MAX_TRACKING_NUMBERS} strings")
    numbers = tuple(_text(n, f"tracking_numbers[{i}]", MAX_TRACKING_NUMBER) for i, n in enumerate(raw))
    if len(set(numbers)) != len(numbers):
        raise invalid_field("tracking_numbers", "must not repeat a tracking number")
    return numbers


def _weight(raw: object) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= MAX_WEIGHT_KG:
        raise invalid_field("weight_kg", f"must be a number in (0, {MAX_WEIGHT_KG}] or null")
    return float(raw)


def despatch_shipment_id(raw: object) -> str | None:
    """The shipment_id of a despatch body, checked first: an existing one answers 409 before anything else."""
    if not isinstance(raw, dict):
        raise ClarusError("invalid_body", "request body must be a JSON object", None, 400)
    unknown = set(raw) - DESPATCH_FIELDS
    if unknown:
        raise invalid_field(sorted(unknown)[0], "unknown field")
    value = raw.get("shipment_id")
    return None if value is None else check_reference(value, "shipment_id")


def parse_despatch(raw: object) -> DespatchRequest:
    """Validate a despatch body on its own (first error wins); lines are checked against the order later."""
    shipment_id = despatch_shipment_id(raw)
    assert isinstance(raw, dict)
    carrier, service = raw.get("carrier"), raw.get("service")
    return DespatchRequest(
        shipment_id=shipment_id,
        lines=None if raw.get("lines") is None else _despatch_lines(raw["lines"]),
        carrier=DEFAULT_CARRIER if carrier is None else _text(carrier, "carrier", MAX_CARRIER),
        service=None if service is None else _text(service, "service", MAX_CARRIER),
        tracking_numbers=None
        if raw.get("tracking_numbers") is None
        else _tracking_numbers(raw["tracking_numbers"]),
        weight_kg=_weight(raw.get("weight_kg")),
    )


def ensure_despatchable(order: Order) -> None:
    if order.status not in DESPATCHABLE:
        raise OrderConflict(
            "invalid_transition",
            f"an order that is {order.status} cannot be despatched",
            order,
            "status",
        )


def shipment_lines(order: Order, requested: tuple[tuple[str, int], ...] | None) -> tuple[ShipmentLine, ...]:
    """The lines a despatch ships: those requested (checked against what is left), or everything left."""
    by_ref = {line.line_ref: line for line in order.lines}
    if requested is None:
        return tuple(
            ShipmentLine(line.line_ref, line.sku, line.quantity - line.quantity_despatched)
            for line in order.lines
            if line.quantity > line.quantity_despatched
        )
    lines: list[ShipmentLine] = []
    for i, (line_ref, quantity) in enumerate(requested):
        line = by_ref.get(line_ref)
        if line is None:
            message = f"order {order.reference!r} has no line {line_ref!r}"
            raise ClarusError("unknown_line_ref", message, f"lines[{i}].line_ref")
        left = line.quantity - line.quantity_despatched
        if quantity > left:
            message = f"line {line_ref!r}: {quantity} requested but only {left} left to despatch"
            raise ClarusError("over_despatch", message, f"lines[{i}].quantity")
        lines.append(ShipmentLine(line_ref, line.sku, quantity))
    return tuple(lines)


def despatch_steps(order: Order, lines: tuple[ShipmentLine, ...], shipment_id: str, now: str) -> list[Order]:
    """The successive versions of the order a despatch makes, each one change (version + 1): `picking`
    and `packed` when not yet there, then the one with the shipment (quantities despatched, shipment id,
    `partially_despatched` or `despatched`)."""
    ensure_despatchable(order)
    steps: list[Order] = []
    current = order
    for status in IMPLICIT_STEPS:
        if current.status in FLOW and FLOW.index(current.status) < FLOW.index(status):
            current = dataclasses.replace(current, status=status, version=current.version + 1, updated_at=now)
            steps.append(current)
    shipped: dict[str, int] = {}
    for line in lines:
        shipped[line.line_ref] = shipped.get(line.line_ref, 0) + line.quantity
    order_lines = tuple(
        dataclasses.replace(
            line, quantity_despatched=line.quantity_despatched + shipped.get(line.line_ref, 0)
        )
        for line in current.lines
    )
    complete = all(line.quantity_despatched >= line.quantity for line in order_lines)
    steps.append(
        dataclasses.replace(
            current,
            status="despatched" if complete else "partially_despatched",
            lines=order_lines,
            shipments=(*current.shipments, shipment_id),
            version=current.version + 1,
            updated_at=now,
        )
    )
    return steps


def tracking_number(reference: str, shipment_id: str) -> str:
    """A UPS-looking tracking number ("1Z" + 16 hex digits), derived from the shipment: deterministic."""
    digest = hashlib.sha256(f"{reference}|{shipment_id}".encode()).hexdigest()
    return f"1Z{digest[:16].upper()}"


def make_shipment(
    request: DespatchRequest,
    order: Order,
    shipment_id: str,
    lines: tuple[ShipmentLine, ...],
    now: str,
    sequence: int,
) -> Shipment:
    return Shipment(
        shipment_id=shipment_id,
        reference=order.reference,
        warehouse_id=order.warehouse_id,
        carrier=request.carrier,
        service=request.service if request.service is not None else order.ship_method,
        tracking_numbers=request.tracking_numbers or (tracking_number(order.reference, shipment_id),),
        weight_kg=request.weight_kg,
        lines=lines,
        despatched_at=now,
        sequence=sequence,
    )
