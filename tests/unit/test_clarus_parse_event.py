"""`parse_event` reads a usable body in one pass, told apart by its `type`; an unusable one is worded
as before (envelope first, then the first field of that type's model)."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from tests.factories import movement_event

from stockbridge.connectors.clarus import wire
from stockbridge.domain.inbound import UnusableEvent


def _order() -> dict[str, Any]:
    data = {"warehouse_id": "WH1", "sequence": 4, "occurred_at": "2026-11-26T09:00:00Z",
            "reference": "SO-1", "status": "picking"}  # fmt: skip
    return {"id": "evt_o4", "type": "order.updated", "data": data}


def _shipment() -> dict[str, Any]:
    data = {"warehouse_id": "WH1", "sequence": 9, "occurred_at": "2026-11-26T09:00:00Z",
            "shipment_id": "SH-1", "reference": "SO-1",
            "lines": [{"line_ref": "1", "sku": "SKU-1", "quantity": 2}]}  # fmt: skip
    return {"id": "evt_s9", "type": "shipment.despatched", "data": data}


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_each_model_names_the_types_the_hub_folds() -> None:
    """The literals that tell the models apart are the constants the rest of the hub uses."""
    literals = [get_args(m.model_fields["type"].annotation) for m in
                (wire.WireEvent, wire.WireOrderEvent, wire.WireShipmentEvent)]  # fmt: skip
    assert set(literals[0]) == {wire.MOVEMENT_EVENT}
    assert set(literals[1]) == wire.ORDER_EVENTS
    assert set(literals[2]) == {wire.SHIPMENT_EVENT}
    assert {t for group in literals for t in group} == wire.FEED_EVENTS


@pytest.mark.parametrize(
    ("event", "model"),
    [
        (movement_event(3, "SKU-1", {"available": 5}), wire.WireEvent),
        (_order(), wire.WireOrderEvent),
        (_shipment(), wire.WireShipmentEvent),
    ],
)
def test_a_usable_body_parses_to_its_types_model(event: dict[str, Any], model: type) -> None:
    parsed = wire.parse_event(_body(event))
    assert type(parsed) is model
    assert parsed == model.model_validate(event)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**movement_event(3, "SKU-1", {}), "type": "inventory.recount"},
         "type: unsupported event type 'inventory.recount'"),
        ({"type": "inventory.movement", "data": {}}, "id: Field required"),
        ({"id": "evt_1", "data": {}}, "type: Field required"),
    ],
)  # fmt: skip
def test_the_envelope_is_worded_first(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(UnusableEvent) as raised:
        wire.parse_event(_body(event))
    assert str(raised.value) == reason


def test_a_bad_field_is_named_by_its_place_in_the_body() -> None:
    """No tag of the union in the reason: the sender sees `data.sequence`, as in its own body."""
    event = movement_event(3, "SKU-1", {"available": 5})
    event["data"]["sequence"] = -1
    with pytest.raises(UnusableEvent) as raised:
        wire.parse_event(_body(event))
    assert str(raised.value).startswith("data.sequence: ")
    shipment = _shipment()
    shipment["data"]["lines"] = []
    with pytest.raises(UnusableEvent) as raised:
        wire.parse_event(_body(shipment))
    assert str(raised.value).startswith("data.lines: ")


def test_not_json_is_unusable() -> None:
    with pytest.raises(UnusableEvent, match=r"^body: "):
        wire.parse_event(b"{not json")
