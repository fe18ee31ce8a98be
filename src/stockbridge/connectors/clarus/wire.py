"""Clarus WMS wire shapes (docs/simulators/clarus.md) and their translation to domain types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from stockbridge.domain import finance, inbound
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.inbound import UnusableEvent, WarehouseOrderStatus
from stockbridge.domain.stock import StockBalance, StockMovement

SOURCE = "clarus"
MOVEMENT_EVENT = "inventory.movement"
ORDER_STATUS_EVENT = "order.status_changed"
ORDER_UPDATED_EVENT = "order.updated"
ORDER_EVENTS = frozenset({ORDER_STATUS_EVENT, ORDER_UPDATED_EVENT})
SHIPMENT_EVENT = "shipment.despatched"
# Each Clarus event type the hub folds, and the inbox kind it is stored under.
INBOX_KIND = {
    MOVEMENT_EVENT: inbound.STOCK_MOVEMENT,
    ORDER_STATUS_EVENT: inbound.WAREHOUSE_ORDER_STATUS,
    ORDER_UPDATED_EVENT: inbound.WAREHOUSE_ORDER_UPDATED,
    SHIPMENT_EVENT: inbound.SHIPMENT_DESPATCHED,
}
# Every Clarus event type the hub folds (webhooks and the events feed alike).
FEED_EVENTS = frozenset(INBOX_KIND)


# What the hub can store (store/schema.py): quantities and sequences go into signed 64-bit columns, and
# a target figure is a sum over a SKU's statuses, so a quantity is bounded far below 2**63 (a trillion
# units is beyond any warehouse); text goes into columns of fixed width. A number or a text past these
# would fail in the database, so it is refused here, where the sender can be told (422).
MAX_QUANTITY = 10**12
MAX_SEQUENCE = 2**63 - 1

Quantity = Annotated[int, Field(ge=-MAX_QUANTITY, le=MAX_QUANTITY)]
SequenceNumber = Annotated[int, Field(ge=0, le=MAX_SEQUENCE)]
EventId = Annotated[str, Field(min_length=1, max_length=160)]  # room for the source in an exception entity
Sku = Annotated[str, Field(min_length=1, max_length=100)]
Status = Annotated[str, Field(min_length=1, max_length=32)]
WarehouseId = Annotated[str, Field(max_length=64)]
Reference = Annotated[str, Field(min_length=1, max_length=64)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class WireBalance(_Wire):
    status: Status
    quantity: Quantity


class WireMovement(_Wire):
    warehouse_id: Annotated[WarehouseId, Field(min_length=1)]
    sequence: SequenceNumber
    occurred_at: datetime
    movement_type: str
    sku: Sku
    quantity: Quantity
    balances: list[WireBalance]
    from_status: Status | None = None
    to_status: Status | None = None


class WireEvent(_Wire):
    id: EventId
    type: Literal["inventory.movement"]  # MOVEMENT_EVENT; a literal so one pass finds the model
    data: WireMovement


class WireOrderStatus(_Wire):
    warehouse_id: WarehouseId
    sequence: SequenceNumber
    occurred_at: datetime
    reference: Reference
    status: Status
    previous_status: str | None = None
    order_version: Annotated[int, Field(ge=0, le=MAX_SEQUENCE)] | None = None


class WireOrderEvent(_Wire):
    id: EventId
    type: Literal["order.status_changed", "order.updated"]  # ORDER_EVENTS
    data: WireOrderStatus

    def order_status(self) -> WarehouseOrderStatus:
        d = self.data
        return WarehouseOrderStatus(d.reference, d.status, d.sequence, d.warehouse_id, d.occurred_at)


class WireShippedLine(_Wire):
    line_ref: Annotated[str, Field(min_length=1, max_length=50)]
    sku: Annotated[str, Field(max_length=100)]
    quantity: Annotated[int, Field(gt=0, le=MAX_QUANTITY)]


class WireShipment(_Wire):
    warehouse_id: WarehouseId
    sequence: SequenceNumber
    occurred_at: datetime
    shipment_id: Annotated[str, Field(min_length=1, max_length=100)]
    reference: Reference
    carrier: str = ""
    service: str = ""
    tracking_numbers: list[str] = []
    lines: Annotated[list[WireShippedLine], Field(min_length=1)]


class WireShipmentEvent(_Wire):
    id: EventId
    type: Literal["shipment.despatched"]  # SHIPMENT_EVENT
    data: WireShipment

    def shipment(self) -> Shipment:
        d = self.data
        return Shipment(
            d.shipment_id,
            d.reference,
            d.carrier,
            d.service,
            tuple(d.tracking_numbers),
            tuple(ShippedLine(line.line_ref, line.sku, line.quantity) for line in d.lines),
            d.sequence,
        )


class _Envelope(_Wire):
    id: EventId
    type: str


class WireStockRow(_Wire):
    warehouse_id: WarehouseId
    sku: Sku
    status: Status
    quantity: Quantity
    sequence: SequenceNumber


class WireSnapshotPage(_Wire):
    data: list[WireStockRow]
    next_cursor: str | None = None
    as_of_sequence: int | None = None


# Every event the hub folds, told apart by its `type` while the body is parsed: one pass over it.
_event = TypeAdapter(Annotated[WireEvent | WireOrderEvent | WireShipmentEvent, Field(discriminator="type")])


def parse_event(body: bytes) -> WireEvent | WireOrderEvent | WireShipmentEvent:
    """A Clarus webhook body as its wire model; `UnusableEvent` says what is wrong with it.

    A usable body is parsed once. An unusable one is parsed again, envelope first, only to word
    the problem as the sender can act on it (its `type`, or the first field of that type's model)."""
    try:
        return _event.validate_json(body)
    except ValidationError:
        pass
    try:
        envelope = _Envelope.model_validate_json(body)
        if envelope.type == MOVEMENT_EVENT:
            return WireEvent.model_validate_json(body)
        if envelope.type in ORDER_EVENTS:
            return WireOrderEvent.model_validate_json(body)
        if envelope.type == SHIPMENT_EVENT:
            return WireShipmentEvent.model_validate_json(body)
    except ValidationError as exc:
        raise UnusableEvent(_first_problem(exc)) from None
    raise UnusableEvent(f"type: unsupported event type {envelope.type!r}")


_snapshot_rows = TypeAdapter(list[WireStockRow])


def parse_snapshot_rows(payload: str | bytes) -> list[WireStockRow]:
    """A stored snapshot page (a JSON list of stock rows); `UnusableEvent` says what is wrong with it."""
    try:
        return _snapshot_rows.validate_json(payload)
    except ValidationError as exc:
        raise UnusableEvent(_first_problem(exc)) from None


def _first_problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


def parse_movement(body: bytes) -> WireEvent:
    event = parse_event(body)
    if not isinstance(event, WireEvent):
        raise UnusableEvent(f"type: expected {MOVEMENT_EVENT}, got {event.type!r}")
    return event


DAMAGED_STATUS = "damaged"


def finance_reason(movement_type: str, from_status: str | None, to_status: str | None) -> str | None:
    """The financial reason of a Clarus movement (docs/simulators/clarus.md, Movements): a
    `write_off`, a stock-take `count`, or a `status_change` into (or, repaired, out of) `damaged`."""
    if movement_type == "write_off":
        return finance.WRITE_OFF
    if movement_type == "count":
        return finance.COUNT
    if movement_type == "status_change" and DAMAGED_STATUS in (from_status, to_status):
        return finance.DAMAGE
    return None


def movement_from_event(event: WireEvent) -> StockMovement:
    d = event.data
    balances = tuple(
        StockBalance(d.sku, d.warehouse_id, b.status, b.quantity, d.sequence, d.occurred_at)
        for b in d.balances
    )
    # A write-off leaves `damaged` unless it names another status; a count sets `available` unless
    # it names another (the movement table's defaults, which the event always spells out).
    return StockMovement(
        event.id,
        d.warehouse_id,
        d.sequence,
        d.occurred_at,
        d.movement_type,
        d.sku,
        d.quantity,
        balances,
        d.from_status,
        d.to_status,
        finance_reason(d.movement_type, d.from_status, d.to_status),
    )


def balances_from_snapshot(rows: list[WireStockRow]) -> list[StockBalance]:
    return [StockBalance(r.sku, r.warehouse_id, r.status, r.quantity, r.sequence, None) for r in rows]
