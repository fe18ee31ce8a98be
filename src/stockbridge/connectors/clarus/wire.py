"""Clarus WMS wire shapes (docs/simulators/clarus.md) and their translation to domain types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.stock import StockBalance, StockMovement

SOURCE = "clarus"
MOVEMENT_EVENT = "inventory.movement"
ORDER_STATUS_EVENT = "order.status_changed"
ORDER_UPDATED_EVENT = "order.updated"
ORDER_EVENTS = frozenset({ORDER_STATUS_EVENT, ORDER_UPDATED_EVENT})
SHIPMENT_EVENT = "shipment.despatched"
# Every Clarus event type the hub folds (webhooks and the events feed alike).
FEED_EVENTS = frozenset({MOVEMENT_EVENT, *ORDER_EVENTS, SHIPMENT_EVENT})
SNAPSHOT_KIND = "clarus.stock_snapshot"


class UnusableEvent(ValueError):
    """A correctly signed event whose content the hub cannot use; the reason says why."""


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class WireBalance(_Wire):
    status: Annotated[str, Field(min_length=1)]
    quantity: int


class WireMovement(_Wire):
    warehouse_id: Annotated[str, Field(min_length=1)]
    sequence: Annotated[int, Field(ge=0)]
    occurred_at: datetime
    movement_type: str
    sku: Annotated[str, Field(min_length=1)]
    quantity: int
    balances: list[WireBalance]


class WireEvent(_Wire):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: str
    data: WireMovement


class WireOrderStatus(_Wire):
    warehouse_id: str
    sequence: Annotated[int, Field(ge=0)]
    occurred_at: datetime
    reference: Annotated[str, Field(min_length=1)]
    status: Annotated[str, Field(min_length=1)]
    previous_status: str | None = None
    order_version: int | None = None


class WireOrderEvent(_Wire):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: str
    data: WireOrderStatus


class WireShippedLine(_Wire):
    line_ref: Annotated[str, Field(min_length=1)]
    sku: str
    quantity: Annotated[int, Field(gt=0)]


class WireShipment(_Wire):
    warehouse_id: str
    sequence: Annotated[int, Field(ge=0)]
    occurred_at: datetime
    shipment_id: Annotated[str, Field(min_length=1)]
    reference: Annotated[str, Field(min_length=1)]
    carrier: str = ""
    service: str = ""
    tracking_numbers: list[str] = []
    lines: Annotated[list[WireShippedLine], Field(min_length=1)]


class WireShipmentEvent(_Wire):
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: str
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
    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: str


class WireStockRow(_Wire):
    warehouse_id: str
    sku: str
    status: str
    quantity: int
    sequence: int


class WireSnapshotPage(_Wire):
    data: list[WireStockRow]
    next_cursor: str | None = None
    as_of_sequence: int | None = None


def parse_event(body: bytes) -> WireEvent | WireOrderEvent | WireShipmentEvent:
    """A Clarus webhook body as its wire model; `UnusableEvent` says what is wrong with it."""
    try:
        envelope = _Envelope.model_validate_json(body)
        if envelope.type == MOVEMENT_EVENT:
            return WireEvent.model_validate_json(body)
        if envelope.type in ORDER_EVENTS:
            return WireOrderEvent.model_validate_json(body)
        if envelope.type == SHIPMENT_EVENT:
            return WireShipmentEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise UnusableEvent(f"{where}: {first['msg']}") from None
    raise UnusableEvent(f"type: unsupported event type {envelope.type!r}")


def parse_movement(body: bytes) -> WireEvent:
    event = parse_event(body)
    if not isinstance(event, WireEvent):
        raise UnusableEvent(f"type: expected {MOVEMENT_EVENT}, got {event.type!r}")
    return event


def movement_from_event(event: WireEvent) -> StockMovement:
    d = event.data
    balances = tuple(
        StockBalance(d.sku, d.warehouse_id, b.status, b.quantity, d.sequence, d.occurred_at)
        for b in d.balances
    )
    return StockMovement(
        event.id, d.warehouse_id, d.sequence, d.occurred_at, d.movement_type, d.sku, d.quantity, balances
    )


def balances_from_snapshot(rows: list[WireStockRow]) -> list[StockBalance]:
    return [StockBalance(r.sku, r.warehouse_id, r.status, r.quantity, r.sequence, None) for r in rows]
