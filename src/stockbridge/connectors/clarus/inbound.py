"""Clarus payloads, as the inbox stored them, parsed into domain types when the fold reads them.

Implements `flows.edge_ports.InboundFormats`. Every parse raises `UnusableEvent` with the reason when
the content cannot be used (the fold sets such an entry aside).
"""

from __future__ import annotations

from stockbridge.connectors.clarus.wire import (
    WireOrderEvent,
    WireShipmentEvent,
    balances_from_snapshot,
    movement_from_event,
    parse_event,
    parse_movement,
    parse_snapshot_rows,
)
from stockbridge.domain.fulfilment import Shipment
from stockbridge.domain.inbound import UnusableEvent, WarehouseOrderStatus
from stockbridge.domain.stock import StockBalance, StockMovement


class ClarusInbound:
    """Reads what Clarus sent: webhook bodies and feed items (both one event), snapshot pages."""

    def movement(self, payload: str) -> StockMovement:
        return movement_from_event(parse_movement(payload.encode()))

    def snapshot(self, payload: str) -> list[StockBalance]:
        return balances_from_snapshot(parse_snapshot_rows(payload))

    def order_status(self, payload: str) -> WarehouseOrderStatus:
        event = parse_event(payload.encode())
        if not isinstance(event, WireOrderEvent):
            raise UnusableEvent(f"type: expected an order event, got {event.type!r}")
        return event.order_status()

    def shipment(self, payload: str) -> Shipment:
        event = parse_event(payload.encode())
        if not isinstance(event, WireShipmentEvent):
            raise UnusableEvent(f"type: expected a shipment event, got {event.type!r}")
        return event.shipment()
