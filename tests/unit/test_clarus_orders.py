"""The Clarus simulator's pure order model: items, validation, transitions, paging and order events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stockbridge.simulators.clarus.items import ItemCatalog
from stockbridge.simulators.clarus.order_book import OrderBook
from stockbridge.simulators.clarus.orders import (
    Amendment,
    OrderConflict,
    OrderRules,
    advanced,
    amended,
    cancelled,
    new_order,
    parse_address,
)
from stockbridge.simulators.clarus.settings import ClarusSettings, FaultSettings, SettingsError
from stockbridge.simulators.clarus.state import ClarusError, ClarusState, parse_movement

T0 = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
METHODS = ("STD", "NDAY")
ADDRESS = {"name": "Ada", "line1": "1 Row", "city": "London", "postcode": "N1", "country": "GB"}


def stamps() -> Any:
    ticks = iter(range(10**9))
    return lambda: (T0 + timedelta(milliseconds=next(ticks))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def catalog(*skus: str, inactive: tuple[str, ...] = ()) -> ItemCatalog:
    items = ItemCatalog()
    for sku in skus:
        items.upsert(sku, {}, "t0")
    for sku in inactive:
        items.upsert(sku, {"active": False}, "t0")
    return items


def body(reference: str = "SO1", **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "reference": reference,
        "warehouse_id": "WH1",
        "ship_method": "STD",
        "ship_to": dict(ADDRESS),
        "lines": [{"line_ref": "1", "sku": "A-1", "quantity": 1}],
    }
    raw.update(overrides)
    return raw


def rules() -> OrderRules:
    return OrderRules({"WH1"}, catalog("A-1", "0012", inactive=("OLD",)), METHODS)


def test_item_catalog_upserts_and_pages_in_sku_order() -> None:
    items = ItemCatalog()
    item, created = items.upsert("0012", {"description": "Widget"}, "t1")
    assert created
    assert items.upsert("0012", {"description": "Widget"}, "t2") == (item, False)
    changed, created = items.upsert("0012", {"active": False}, "t3")
    assert (created, changed.description, changed.active, changed.created_at, changed.updated_at) == (
        False,
        None,
        False,
        "t1",
        "t3",
    )
    for sku in ("a", "B", "12"):
        items.upsert(sku, {}, "t4")
    first = items.page(2)
    assert [i.sku for i in first.items] == ["0012", "12"]
    second = items.page(2, first.next_cursor)
    assert ([i.sku for i in second.items], second.next_cursor) == (["B", "a"], None)
    with pytest.raises(ClarusError) as refused:
        items.upsert("no/slash", {}, "t5")
    assert (refused.value.code, refused.value.field) == ("invalid_sku", "sku")
    with pytest.raises(ClarusError) as unknown:
        items.upsert("X", {"colour": "red"}, "t5")
    assert unknown.value.field == "colour"


def test_new_order_is_received_at_version_one() -> None:
    order = new_order(body(notes="n", ship_to={**ADDRESS, "line2": "  Flat 2 "}), rules(), "t1")
    assert (order.status, order.version, order.created_at, order.updated_at) == ("received", 1, "t1", "t1")
    assert order.to_dict()["ship_to"]["line2"] == "Flat 2"  # trimmed
    assert order.to_dict()["lines"] == [
        {"line_ref": "1", "sku": "A-1", "quantity": 1, "quantity_despatched": 0}
    ]


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"lines": [{"line_ref": "1", "sku": "12", "quantity": 1}]}, "unknown_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "OLD", "quantity": 1}]}, "inactive_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "A 1", "quantity": 1}]}, "invalid_sku", "lines[0].sku"),
        (
            {"lines": [{"line_ref": "1", "sku": "A-1", "quantity": True}]},
            "invalid_field",
            "lines[0].quantity",
        ),
        ({"lines": [{"line_ref": 1, "sku": "A-1", "quantity": 1}]}, "invalid_field", "lines[0].line_ref"),
        ({"lines": [{"line_ref": "1", "sku": "A-1", "quantity": 1, "x": 1}]}, "invalid_field", "lines[0].x"),
        ({"lines": "A-1"}, "invalid_field", "lines"),
        ({"ship_method": None}, "invalid_field", "ship_method"),
        ({"ship_method": "EXP"}, "unknown_ship_method", "ship_method"),
        ({"warehouse_id": "WH2"}, "unknown_warehouse", "warehouse_id"),
        ({"reference": "SO/1"}, "invalid_field", "reference"),
        ({"reference": " SO1"}, "invalid_field", "reference"),
        ({"ship_to": {**ADDRESS, "country": "gb"}}, "invalid_address", "ship_to.country"),
        ({"ship_to": {**ADDRESS, "email": "nobody"}}, "invalid_address", "ship_to.email"),
        ({"ship_to": {**ADDRESS, "name": 7}}, "invalid_address", "ship_to.name"),
        ({"ship_to": {**ADDRESS, "postcode": "P" * 21}}, "invalid_address", "ship_to.postcode"),
        ({"ship_to": {**ADDRESS, "floor": "2"}}, "invalid_address", "ship_to.floor"),
        ({"notes": 5}, "invalid_field", "notes"),
    ],
)
def test_invalid_orders_name_code_and_field(change: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(ClarusError) as refused:
        new_order(body(**change), rules(), "t1")
    assert (refused.value.code, refused.value.field, refused.value.status) == (code, field, 422)


def test_address_keeps_every_field_in_order() -> None:
    address = parse_address({**ADDRESS, "phone": "+44 20 7946 0000", "email": "ada@example.com"})
    assert [name for name, _ in address] == [
        "name",
        "line1",
        "line2",
        "city",
        "region",
        "postcode",
        "country",
        "phone",
        "email",
    ]


def test_amendment_bumps_version_only_when_something_changes() -> None:
    order = new_order(body(), rules(), "t1")
    assert amended(order, Amendment(ship_method="STD"), "t2") is None
    assert amended(order, Amendment(notes=(True, None)), "t2") is None
    changed = amended(order, Amendment(ship_method="NDAY", notes=(True, "gift")), "t2")
    assert changed is not None
    assert (changed.version, changed.ship_method, changed.notes, changed.updated_at) == (
        2,
        "NDAY",
        "gift",
        "t2",
    )
    cleared = amended(changed, Amendment(notes=(True, None)), "t3")
    assert cleared is not None
    assert (cleared.version, cleared.notes) == (3, None)


@pytest.mark.parametrize(
    ("status", "code"),
    [("picking", "order_locked"), ("packed", "order_locked"), ("cancelled", "order_cancelled")],
)
def test_amend_and_cancel_refused_once_picking(status: str, code: str) -> None:
    received = new_order(body(), rules(), "t1")
    order = advanced(received, status, "t2") if status != "cancelled" else cancelled(received, "t2")
    assert order is not None
    with pytest.raises(OrderConflict) as refused:
        amended(order, Amendment(notes=(True, "x")), "t3")
    assert (refused.value.code, refused.value.status) == (code, 409)
    assert refused.value.response_body()["order"] == order.to_dict()
    if status == "cancelled":
        assert cancelled(order, "t3") is None  # idempotent
    else:
        with pytest.raises(OrderConflict, match="picking has started"):
            cancelled(order, "t3")


def test_advance_walks_forward_and_holds() -> None:
    order = new_order(body(), rules(), "t1")
    held = advanced(order, "on_hold", "t2")
    assert held is not None
    assert (held.status, held.version) == ("on_hold", 2)
    assert advanced(held, "on_hold", "t3") is None  # already there
    with pytest.raises(ClarusError):
        advanced(held, "received", "t3")  # not a target of /advance
    resumed = advanced(held, "released", "t3")
    assert resumed is not None
    allocated = advanced(resumed, "allocated", "t4")
    assert allocated is not None
    with pytest.raises(OrderConflict) as backwards:
        advanced(allocated, "released", "t5")
    assert backwards.value.code == "invalid_transition"
    packed = advanced(allocated, "packed", "t5")  # skipping picking is allowed: one change
    assert packed is not None
    assert (packed.status, packed.version) == ("packed", 5)
    with pytest.raises(OrderConflict):
        advanced(packed, "on_hold", "t6")
    with pytest.raises(ClarusError) as unknown:
        advanced(packed, "despatched", "t6")
    assert unknown.value.field == "status"


def test_resume_from_hold_goes_back_to_where_it_was_or_later() -> None:
    allocated = advanced(new_order(body(), rules(), "t1"), "allocated", "t2")
    assert allocated is not None
    held = advanced(allocated, "on_hold", "t3")
    assert held is not None
    with pytest.raises(OrderConflict):
        advanced(held, "released", "t4")
    back = advanced(held, "allocated", "t4")
    assert back is not None
    assert (back.status, back.held_from) == ("allocated", None)


def test_order_book_is_idempotent_by_reference_and_pages_by_update() -> None:
    now = stamps()
    book = OrderBook({"WH1"}, catalog("A-1"))
    for i in range(6):
        book.create(body(f"SO{i}"), METHODS, now())
    with pytest.raises(OrderConflict) as duplicate:
        book.create(body("SO0", lines="ignored"), METHODS, now())
    assert (duplicate.value.code, duplicate.value.order.reference) == ("duplicate_reference", "SO0")
    book.amend("SO1", {"notes": "x"}, METHODS, now())
    book.cancel("SO2", now())
    assert book.cancel("SO2", now())[1] is None
    refs: list[str] = []
    cursor = None
    while True:
        page = book.page(4, cursor)
        refs += [o.reference for o in page.orders]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert refs == ["SO0", "SO3", "SO4", "SO5", "SO1", "SO2"]
    assert [o.reference for o in book.page(10, status="cancelled").orders] == ["SO2"]
    after = book.orders["SO5"].updated_at
    assert [o.reference for o in book.page(10, updated_after=after).orders] == ["SO1", "SO2"]
    assert book.page(10, updated_after="2000-01-01").orders[0].reference == "SO0"  # naive = UTC
    assert len(book.orders) == 6


def test_order_events_share_the_warehouse_sequence_with_movements() -> None:
    ticks = iter(range(10**9))
    state = ClarusState(["WH1"], lambda: T0 + timedelta(milliseconds=next(ticks)))
    state.items.upsert("A-1", {}, state.now())
    state.apply(
        parse_movement({"warehouse_id": "WH1", "movement_type": "receipt", "sku": "A-1", "quantity": 3})
    )
    order = state.orders.create(body(), METHODS, state.now())
    event = state.order_event("order.status_changed", order, None)
    assert event.to_dict() == {
        "id": "evt_WH1_000000000002",
        "type": "order.status_changed",
        "created_at": order.updated_at,
        "data": {
            "warehouse_id": "WH1",
            "sequence": 2,
            "occurred_at": order.updated_at,
            "reference": "SO1",
            "status": "received",
            "previous_status": None,
            "order_version": 1,
        },
    }
    [movement] = state.apply(
        parse_movement({"warehouse_id": "WH1", "movement_type": "allocate", "sku": "A-1", "quantity": 1})
    )
    assert movement.sequence == 3
    assert [e.type for e in state.events_after("WH1", 0, 10).events] == [
        "inventory.movement",
        "order.status_changed",
        "inventory.movement",
    ]
    page = state.events_after("WH1", 0, 10, frozenset({"order.status_changed"}))
    assert ([e.sequence for e in page.events], page.has_more, page.next_after_sequence) == ([2], False, 3)
    subscription = state.add_subscription("http://x", "s", ["order.status_changed", "order.updated"])
    assert subscription.events == ("order.status_changed", "order.updated")


def test_ship_method_and_timeout_settings_validate() -> None:
    assert ClarusSettings().ship_methods == ("STD", "NDAY", "EXP", "INTL")
    assert ClarusSettings().updated({"ship_methods": ["A", "A", "B"]}).ship_methods == ("A", "B")
    for bad in ([], "STD", ["no spaces"], [1]):
        with pytest.raises(SettingsError):
            ClarusSettings().updated({"ship_methods": bad})
    faults = FaultSettings().updated({"create_timeout_rate": 0.5, "timeout_delay_s": 2})
    assert (faults.create_timeout_rate, faults.timeout_delay_s) == (0.5, 2.0)
    with pytest.raises(SettingsError):
        FaultSettings(timeout_delay_s=0)
