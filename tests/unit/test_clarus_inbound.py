"""The Clarus edge: what Clarus sent, as the inbox stored it, becomes domain types (decision 0020)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.factories import T0, movement_event

from stockbridge.connectors.clarus.client import FeedItem as RawFeedItem
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.stock import checked
from stockbridge.connectors.clarus.wire import FEED_EVENTS, INBOX_KIND
from stockbridge.domain import inbound
from stockbridge.domain.fulfilment import Shipment, ShippedLine
from stockbridge.domain.inbound import UnusableEvent, WarehouseOrderStatus
from stockbridge.domain.stock import StockBalance, StockMovement

CLARUS = ClarusInbound()
WHEN = T0.isoformat().replace("+00:00", "Z")


def _order_event(status: str = "picking", sequence: int = 7) -> dict[str, Any]:
    data = {
        "warehouse_id": "WH1",
        "sequence": sequence,
        "occurred_at": WHEN,
        "reference": "SO1",
        "status": status,
    }
    return {"id": f"evt_o{sequence}", "type": "order.status_changed", "data": data}


def _shipment_event() -> dict[str, Any]:
    data = {
        "warehouse_id": "WH1",
        "sequence": 9,
        "occurred_at": WHEN,
        "shipment_id": "SHP-1",
        "reference": "SO1",
        "carrier": "UPS",
        "service": "STD",
        "tracking_numbers": ["1Z1"],
        "lines": [{"line_ref": "1", "sku": "MUG", "quantity": 2}],
    }
    return {"id": "evt_s9", "type": "shipment.despatched", "data": data}


def test_every_folded_clarus_event_type_maps_onto_a_warehouse_event_kind() -> None:
    assert set(INBOX_KIND) == FEED_EVENTS
    assert set(INBOX_KIND.values()) == inbound.WAREHOUSE_EVENT_KINDS


def test_a_movement_becomes_its_balances_and_when_it_happened() -> None:
    movement = CLARUS.movement(json.dumps(movement_event(3, "MUG", {"available": 5, "allocated": 1})))
    assert movement.occurred_at == T0 + timedelta(seconds=3)
    assert movement.balances == (
        StockBalance("MUG", "WH1", "available", 5, 3, movement.occurred_at),
        StockBalance("MUG", "WH1", "allocated", 1, 3, movement.occurred_at),
    )


def test_a_snapshot_page_becomes_balances_without_a_movement_time() -> None:
    rows = [{"warehouse_id": "WH1", "sku": "MUG", "status": "available", "quantity": 4, "sequence": 2}]
    assert CLARUS.snapshot(json.dumps(rows)) == [StockBalance("MUG", "WH1", "available", 4, 2, None)]


def test_order_and_shipment_events_become_domain_types() -> None:
    assert CLARUS.order_status(json.dumps(_order_event())) == WarehouseOrderStatus(
        "SO1", "picking", 7, "WH1", T0
    )
    assert CLARUS.shipment(json.dumps(_shipment_event())) == Shipment(
        "SHP-1", "SO1", "UPS", "STD", ("1Z1",), (ShippedLine("1", "MUG", 2),), 9
    )


@pytest.mark.parametrize(
    ("read", "payload", "reason"),
    [
        (CLARUS.order_status, json.dumps(_shipment_event()), "expected an order event"),
        (CLARUS.shipment, json.dumps(_order_event()), "expected a shipment event"),
        (CLARUS.movement, json.dumps(_order_event()), "expected inventory.movement"),
        (CLARUS.movement, "{not json", "body"),
        (CLARUS.snapshot, json.dumps([{"sku": "MUG"}]), "warehouse_id"),
        (CLARUS.order_status, json.dumps(_order_event(sequence=-1)), "sequence"),
    ],
)
def test_what_cannot_be_used_is_refused_with_the_reason(read: Any, payload: str, reason: str) -> None:
    with pytest.raises(UnusableEvent, match=reason):
        read(payload)


def test_feed_items_are_checked_as_webhooks_are() -> None:
    good = json.dumps(_order_event()).encode()
    assert checked(RawFeedItem("evt_o7", "order.status_changed", good)) == inbound.FeedItem(
        "evt_o7", inbound.WAREHOUSE_ORDER_STATUS, good
    )
    skipped = checked(RawFeedItem("evt_x", "item.updated", b'{"id":"evt_x","type":"item.updated"}'))
    assert (skipped.kind, skipped.problem) == (None, None)
    bad = checked(RawFeedItem("evt_b", "inventory.movement", b'{"id":"evt_b","type":"inventory.movement"}'))
    assert bad.kind is None
    assert bad.problem is not None
    assert "data" in bad.problem


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
FIELDS = [
    "id",
    "type",
    "data",
    "warehouse_id",
    "sequence",
    "occurred_at",
    "sku",
    "balances",
    "status",
    "lines",
]


def _mutated(event: dict[str, Any], field: str, value: Any) -> str:
    copy = json.loads(json.dumps(event))
    target = copy if field in ("id", "type", "data") else copy["data"]
    target[field] = value
    return json.dumps(copy)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["movement", "snapshot", "order_status", "shipment"]),
    st.one_of(
        st.text(max_size=60),
        json_values.map(json.dumps),
        st.tuples(
            st.sampled_from([movement_event(1, "MUG", {"available": 1}), _order_event(), _shipment_event()]),
            st.sampled_from(FIELDS),
            json_values,
        ).map(lambda t: _mutated(*t)),
    ),
)
def test_whatever_was_stored_the_edge_answers_domain_types_or_unusable_event(read: str, payload: str) -> None:
    """The fold sets aside what raises `UnusableEvent`; anything else would roll back its whole batch."""
    try:
        result = getattr(CLARUS, read)(payload)
    except UnusableEvent:
        return
    assert isinstance(result, StockMovement | list | WarehouseOrderStatus | Shipment)
