"""The Clarus simulator's pure shipment model: despatch validation, order steps, the book, the events."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stockbridge.simulators.clarus.items import ItemCatalog
from stockbridge.simulators.clarus.orders import (
    Order,
    OrderConflict,
    OrderRules,
    advanced,
    cancelled,
    new_order,
)
from stockbridge.simulators.clarus.shipment_book import ShipmentBook
from stockbridge.simulators.clarus.shipments import (
    DespatchRequest,
    Shipment,
    ShipmentConflict,
    ShipmentEvent,
    ShipmentLine,
    despatch_steps,
    make_shipment,
    parse_despatch,
    shipment_lines,
    tracking_number,
)
from stockbridge.simulators.clarus.state import ClarusError, ClarusState, parse_movement

T0 = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
METHODS = ("STD", "NDAY")
ADDRESS = {"name": "Ada", "line1": "1 Row", "city": "London", "postcode": "N1", "country": "GB"}
LINES = [{"line_ref": "1", "sku": "A-1", "quantity": 3}, {"line_ref": "2", "sku": "B-2", "quantity": 1}]


def order_body(reference: str = "SO1") -> dict[str, Any]:
    return {
        "reference": reference,
        "warehouse_id": "WH1",
        "ship_method": "NDAY",
        "ship_to": dict(ADDRESS),
        "lines": [dict(line) for line in LINES],
    }


def catalog() -> ItemCatalog:
    items = ItemCatalog()
    for sku in ("A-1", "B-2"):
        items.upsert(sku, {}, "t0")
    return items


def make_order(status: str = "released") -> Order:
    order = new_order(order_body(), OrderRules({"WH1"}, catalog(), METHODS), "t1")
    if status != "received":
        moved = advanced(order, status, "t2")
        assert moved is not None
        order = moved
    return order


def state() -> ClarusState:
    ticks = iter(range(10**9))
    clarus = ClarusState(["WH1"], lambda: T0 + timedelta(milliseconds=next(ticks)))
    for sku in ("A-1", "B-2"):
        clarus.items.upsert(sku, {}, clarus.now())
    return clarus


def shipment(shipment_id: str, despatched_at: str, reference: str = "SO1") -> Shipment:
    return Shipment(
        shipment_id,
        reference,
        "WH1",
        "UPS",
        "NDAY",
        ("1Z1",),
        None,
        (ShipmentLine("1", "A-1", 1),),
        despatched_at,
        1,
    )


def test_parse_despatch_defaults_and_values() -> None:
    assert parse_despatch({}) == DespatchRequest()
    request = parse_despatch(
        {
            "shipment_id": "S-1",
            "lines": [{"line_ref": "2", "quantity": 1}, {"line_ref": "1", "quantity": 2}],
            "carrier": "DPD",
            "service": "NEXT-DAY",
            "tracking_numbers": ["A1", "A2"],
            "weight_kg": 2,
        }
    )
    assert request == DespatchRequest("S-1", (("2", 1), ("1", 2)), "DPD", "NEXT-DAY", ("A1", "A2"), 2.0)
    assert isinstance(request.weight_kg, float)


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ({"colour": "red"}, "invalid_field", "colour"),
        ({"shipment_id": "a/b"}, "invalid_field", "shipment_id"),
        ({"shipment_id": ""}, "invalid_field", "shipment_id"),
        ({"lines": []}, "invalid_field", "lines"),
        ({"lines": [{"line_ref": "1"}]}, "invalid_field", "lines[0].quantity"),
        ({"lines": [{"line_ref": "1", "quantity": True}]}, "invalid_field", "lines[0].quantity"),
        ({"lines": [{"line_ref": "1", "quantity": 0}]}, "invalid_field", "lines[0].quantity"),
        ({"lines": [{"line_ref": "1", "quantity": 1, "sku": "A-1"}]}, "invalid_field", "lines[0].sku"),
        ({"lines": [{"line_ref": 1, "quantity": 1}]}, "invalid_field", "lines[0].line_ref"),
        (
            {"lines": [{"line_ref": "1", "quantity": 1}, {"line_ref": "1", "quantity": 1}]},
            "duplicate_line_ref",
            "lines[1].line_ref",
        ),
        ({"carrier": " "}, "invalid_field", "carrier"),
        ({"service": 5}, "invalid_field", "service"),
        ({"tracking_numbers": []}, "invalid_field", "tracking_numbers"),
        ({"tracking_numbers": "1Z"}, "invalid_field", "tracking_numbers"),
        ({"tracking_numbers": ["X", ""]}, "invalid_field", "tracking_numbers[1]"),
        ({"tracking_numbers": ["X", "X"]}, "invalid_field", "tracking_numbers"),
        ({"weight_kg": 0}, "invalid_field", "weight_kg"),
        ({"weight_kg": "2"}, "invalid_field", "weight_kg"),
        ({"weight_kg": True}, "invalid_field", "weight_kg"),
    ],
)
def test_parse_despatch_refusals_name_code_and_field(raw: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(ClarusError) as refused:
        parse_despatch(raw)
    assert (refused.value.code, refused.value.field, refused.value.status) == (code, field, 422)


def test_parse_despatch_needs_an_object() -> None:
    with pytest.raises(ClarusError) as refused:
        parse_despatch([])
    assert (refused.value.code, refused.value.status) == ("invalid_body", 400)


def test_shipment_lines_default_to_everything_left_and_refuse_over_despatch() -> None:
    order = make_order()
    assert shipment_lines(order, None) == (ShipmentLine("1", "A-1", 3), ShipmentLine("2", "B-2", 1))
    assert shipment_lines(order, (("2", 1), ("1", 1))) == (
        ShipmentLine("2", "B-2", 1),
        ShipmentLine("1", "A-1", 1),
    )
    [final] = despatch_steps(make_order("packed"), (ShipmentLine("1", "A-1", 2),), "S1", "t3")
    assert shipment_lines(final, None) == (ShipmentLine("1", "A-1", 1), ShipmentLine("2", "B-2", 1))
    with pytest.raises(ClarusError) as over:
        shipment_lines(final, (("2", 1), ("1", 2)))
    assert (over.value.code, over.value.field) == ("over_despatch", "lines[1].quantity")
    assert "only 1 left" in over.value.message
    with pytest.raises(ClarusError) as unknown:
        shipment_lines(final, (("9", 1),))
    assert (unknown.value.code, unknown.value.field) == ("unknown_line_ref", "lines[0].line_ref")


@pytest.mark.parametrize(
    ("status", "implicit"),
    [
        ("released", ["picking", "packed"]),
        ("allocated", ["picking", "packed"]),
        ("picking", ["packed"]),
        ("packed", []),
    ],
)
def test_despatch_walks_through_picking_and_packed(status: str, implicit: list[str]) -> None:
    order = make_order(status)
    steps = despatch_steps(order, shipment_lines(order, None), "S1", "t9")
    assert [s.status for s in steps] == [*implicit, "despatched"]
    assert [s.version for s in steps] == list(range(order.version + 1, order.version + 2 + len(implicit)))
    assert all(s.updated_at == "t9" for s in steps)
    assert all(s.shipments == () for s in steps[:-1])
    final = steps[-1]
    assert final.shipments == ("S1",)
    assert [(line.quantity, line.quantity_despatched) for line in final.lines] == [(3, 3), (1, 1)]
    assert final.to_dict()["shipments"] == ["S1"]


def test_partial_despatches_then_complete() -> None:
    [*_, first] = despatch_steps(make_order(), (ShipmentLine("1", "A-1", 1),), "S1", "t3")
    assert (first.status, first.version) == ("partially_despatched", 5)
    [second] = despatch_steps(first, (ShipmentLine("1", "A-1", 1),), "S2", "t4")
    assert (second.status, second.version, second.shipments) == ("partially_despatched", 6, ("S1", "S2"))
    [third] = despatch_steps(second, shipment_lines(second, None), "S3", "t5")
    assert (third.status, third.version, third.shipments) == ("despatched", 7, ("S1", "S2", "S3"))
    assert [line.quantity_despatched for line in third.lines] == [3, 1]


@pytest.mark.parametrize("status", ["received", "on_hold", "despatched", "cancelled"])
def test_despatch_refused_unless_released_or_later(status: str) -> None:
    order = make_order("released")
    if status == "received":
        order = make_order("received")
    elif status == "on_hold":
        held = advanced(order, "on_hold", "t3")
        assert held is not None
        order = held
    elif status == "despatched":
        order = despatch_steps(order, shipment_lines(order, None), "S1", "t3")[-1]
    else:
        gone = cancelled(order, "t3")
        assert gone is not None
        order = gone
    with pytest.raises(OrderConflict) as refused:
        despatch_steps(order, (ShipmentLine("1", "A-1", 1),), "S9", "t4")
    assert (refused.value.code, refused.value.status) == ("invalid_transition", 409)
    assert refused.value.response_body()["order"]["status"] == status


def test_tracking_numbers_are_generated_deterministically() -> None:
    number = tracking_number("SO1", "SHP-000001")
    assert re.fullmatch(r"1Z[0-9A-F]{16}", number)
    assert number == tracking_number("SO1", "SHP-000001") != tracking_number("SO1", "SHP-000002")
    order = make_order()
    made = make_shipment(DespatchRequest(), order, "SHP-000001", shipment_lines(order, None), "t3", 7)
    assert (made.carrier, made.service, made.tracking_numbers, made.weight_kg) == (
        "UPS",
        "NDAY",
        (number,),
        None,
    )
    given = make_shipment(
        DespatchRequest(service="SAT", tracking_numbers=("A", "B")), order, "S", (), "t3", 7
    )
    assert (given.service, given.tracking_numbers) == ("SAT", ("A", "B"))


def test_shipment_book_ids_conflicts_and_paging() -> None:
    book = ShipmentBook()
    book.add(shipment("SHP-000001", "2026-01-01T00:00:03.000000Z"))  # a client chose a generated-looking id
    assert book.next_id() == "SHP-000002"
    for shipment_id, at, reference in (
        ("B", "2026-01-01T00:00:01.000000Z", "SO2"),
        ("A", "2026-01-01T00:00:01.000000Z", "SO1"),
        ("C", "2026-01-01T00:00:02.000000Z", "SO1"),
    ):
        book.add(shipment(shipment_id, at, reference))
    with pytest.raises(ShipmentConflict) as duplicate:
        book.ensure_new("A")
    body = duplicate.value.response_body()
    assert (duplicate.value.status, body["error"]["code"], body["shipment"]["shipment_id"]) == (
        409,
        "duplicate_shipment",
        "A",
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = book.page(2, cursor)
        seen += [s.shipment_id for s in page.shipments]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == ["A", "B", "C", "SHP-000001"]
    assert [s.shipment_id for s in book.page(10, reference="SO1").shipments] == ["A", "C", "SHP-000001"]
    after = [s.shipment_id for s in book.page(10, updated_after="2026-01-01T00:00:01Z").shipments]
    assert after == ["C", "SHP-000001"]
    assert book.page(10, warehouse_id="WH2").shipments == []
    with pytest.raises(ClarusError) as bad:
        book.page(10, cursor="nope")
    assert bad.value.code == "invalid_cursor"
    with pytest.raises(ClarusError) as missing:
        book.get("Z")
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
    assert list(book.dump()) == ["A", "B", "C", "SHP-000001"]


def test_state_despatch_emits_each_change_in_the_warehouse_sequence() -> None:
    clarus = state()
    receipt = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "A-1", "quantity": 3}
    clarus.apply(parse_movement(receipt))
    clarus.orders.create(order_body(), METHODS, clarus.now())  # order events are recorded by the HTTP layer
    clarus.orders.advance("SO1", "allocated", clarus.now())
    made, events = clarus.despatch("SO1", {"lines": [{"line_ref": "1", "quantity": 2}], "weight_kg": 1.5})
    assert [(e.type, e.sequence) for e in events] == [
        ("order.status_changed", 2),
        ("order.status_changed", 3),
        ("shipment.despatched", 4),
        ("order.status_changed", 5),
    ]
    assert [e.to_dict()["data"].get("status") for e in events] == [
        "picking",
        "packed",
        None,
        "partially_despatched",
    ]
    assert made.sequence == 4
    assert made.shipment_id == "SHP-000001"
    event = events[2]
    assert isinstance(event, ShipmentEvent)
    assert event.to_dict() == {
        "id": "evt_WH1_000000000004",
        "type": "shipment.despatched",
        "created_at": made.despatched_at,
        "data": {
            "warehouse_id": "WH1",
            "sequence": 4,
            "occurred_at": made.despatched_at,
            "shipment_id": "SHP-000001",
            "reference": "SO1",
            "carrier": "UPS",
            "service": "NDAY",
            "tracking_numbers": list(made.tracking_numbers),
            "weight_kg": 1.5,
            "lines": [{"line_ref": "1", "sku": "A-1", "quantity": 2}],
        },
    }
    assert made.to_dict()["lines"] == event.to_dict()["data"]["lines"]
    order = clarus.orders.get("SO1")
    assert (order.status, order.version, order.shipments, order.updated_at) == (
        "partially_despatched",
        5,
        ("SHP-000001",),
        made.despatched_at,
    )
    # A second partial despatch leaves the status as it is: the order's change is an `order.updated`.
    _, more = clarus.despatch("SO1", {"shipment_id": "S-2", "lines": [{"line_ref": "2", "quantity": 1}]})
    assert [(e.type, e.sequence) for e in more] == [("shipment.despatched", 6), ("order.updated", 7)]
    assert clarus.stock_view()["warehouses"]["WH1"]["stock"] == {"A-1": {"available": 3}}  # stock untouched
    feed = clarus.events_after("WH1", 0, 100, frozenset({"shipment.despatched"}))
    assert [e.sequence for e in feed.events] == [4, 6]


def test_refused_despatch_changes_nothing() -> None:
    clarus = state()
    clarus.orders.create(order_body(), METHODS, clarus.now())
    clarus.orders.advance("SO1", "released", clarus.now())
    before = clarus.orders.get("SO1")
    for raw, code in (
        ({"lines": [{"line_ref": "1", "quantity": 4}]}, "over_despatch"),
        ({"lines": [{"line_ref": "9", "quantity": 1}]}, "unknown_line_ref"),
        ({"carrier": ""}, "invalid_field"),
    ):
        with pytest.raises(ClarusError) as refused:
            clarus.despatch("SO1", raw)
        assert refused.value.code == code
    assert clarus.orders.get("SO1") is before
    assert clarus.warehouses["WH1"].sequence == 0
    assert clarus.shipments.shipments == {}
    clarus.despatch("SO1", {"shipment_id": "S-1", "lines": [{"line_ref": "1", "quantity": 1}]})
    # A taken shipment_id is answered before anything else, even a body that is otherwise wrong.
    with pytest.raises(ShipmentConflict):
        clarus.despatch("SO1", {"shipment_id": "S-1", "carrier": ""})
    with pytest.raises(ClarusError) as missing:
        clarus.despatch("SO9", {})
    assert missing.value.status == 404
    assert clarus.despatch("SO1", {})[0].shipment_id == "SHP-000001"
