"""The oracle on small hand-built simulator states: each rule it re-writes, and each check's verdict."""

from __future__ import annotations

from typing import Any

import pytest

from stockbridge.oracle import (
    Catalog,
    OracleSettings,
    SkuSettings,
    adjustments_off_target,
    check_fulfilments,
    check_orders,
    expected_figures,
    expected_order,
    ims_drift,
    warehouse_sku,
)

CONFIG: dict[str, Any] = {
    "locations": [{"warehouse": "WH1", "ims_location": "6"}, {"warehouse": "WH2", "ims_location": "7"}],
    "inventory_statuses": {
        "available": {"counts_for": ["ims", "shop"]},
        "allocated": {"counts_for": ["ims"]},
        "picked": {"counts_for": ["ims"]},
        "quarantine": {},
    },
    "targets": {"ims": {}, "shop": {"buffer": 2, "sku_buffers": {"B": 0}}},
    "sku_rules": {"strip_characters": ".", "case": "upper", "aliases": {"old-name": "NEW-1"}},
    "orders": {"ship_methods": {"UPS Ground": "STD"}},
}
SETTINGS = OracleSettings.from_config_data(CONFIG)
ADDRESS = {"addressee": "Ada", "addr1": "1 St", "city": "London", "zip": "N1 9GU", "country": "GB"}


def _clarus(stock: dict[str, dict[str, dict[str, int]]]) -> dict[str, Any]:
    return {"warehouses": {wh: {"sequence": 1, "stock": s} for wh, s in stock.items()}}


# --- settings ---------------------------------------------------------------------------------------
def test_settings_read_the_documented_keys_and_defaults() -> None:
    assert SETTINGS.targets["ims"].counted_statuses == {"available", "allocated", "picked"}
    assert SETTINGS.targets["shop"].counted_statuses == {"available"}
    assert SETTINGS.locations == {"WH1": "6", "WH2": "7"}
    assert SETTINGS.release_statuses == {"B"}
    assert SETTINGS.order_warehouse == "WH1"
    bare = OracleSettings.from_config_data({"locations": [{"warehouse": "W", "ims_location": "1"}]})
    assert set(bare.targets) == {"ims"}
    assert bare.targets["ims"].counted_statuses == frozenset()


def test_settings_read_buffer_classes_first_match_after_the_skus_own() -> None:
    classes = {"mugs": {"buffer": 5, "skus": ["MUG-*"]}, "big": {"buffer": 9, "skus": ["*-XL", "MUG-X*"]}}
    data = {**CONFIG, "targets": {"shop": {"buffer": 1, "sku_buffers": {"MUG-7": 0}, "classes": classes}}}
    shop = OracleSettings.from_config_data(data).targets["shop"]
    assert [shop.buffer_for(s) for s in ("MUG-7", "MUG-XL", "TEE-XL", "TEA-2")] == [0, 5, 9, 1]


# --- stock --------------------------------------------------------------------------------------------
def test_each_channel_counts_its_statuses_minus_its_buffer_never_below_zero() -> None:
    clarus = _clarus(
        {
            "WH1": {
                "A": {"available": 5, "allocated": 2, "picked": 1, "quarantine": 9},
                "B": {"available": 1},
            },
            "WH2": {"A": {"available": 1}},
            "WH9": {"A": {"available": 100}},  # unmapped: feeds no channel
        }
    )
    assert expected_figures(clarus, SETTINGS, "ims") == {("A", "6"): 8, ("B", "6"): 1, ("A", "7"): 1}
    assert expected_figures(clarus, SETTINGS, "shop") == {("A", "6"): 3, ("B", "6"): 1, ("A", "7"): 0}


def test_drift_compares_ims_on_hand_per_sku_and_location() -> None:
    clarus = _clarus({"WH1": {"A": {"available": 5}, "B": {"picked": 2}}})
    ims = {
        "items": {
            "A": {"onHand": {"6": 5, "7": 0}},
            "B": {"onHand": {"6": 1}},
            "C": {"onHand": {"6": 4}},  # the warehouse has none
            "KIT": {"onHand": {}},
        }
    }
    found = ims_drift(clarus, ims, SETTINGS)
    assert (found.keys, found.units) == (2, 5)
    assert found.examples == [("B", "6", 2, 1), ("C", "6", 0, 4)]


def _adjustment(item: str, quantity: int, sets: int) -> dict[str, Any]:
    return {"item": item, "location": "6", "quantity": quantity, "memo": f"stockbridge ATS {sets} v1"}


def test_adjustments_must_land_on_the_figure_they_set() -> None:
    # 139, then 134, then 139 again under one version: reordered folds, not a double push.
    fine = [_adjustment("107", 139, 139), _adjustment("107", -5, 134), _adjustment("107", 5, 139)]
    assert adjustments_off_target(fine) == []
    doubled = [_adjustment("107", 10, 10), _adjustment("108", 3, 3), _adjustment("107", 10, 10)]
    assert [(a["item"], a["on_hand_after"]) for a in adjustments_off_target(doubled)] == [("107", 20)]
    opening = {("107", "6"): 4}
    assert adjustments_off_target([_adjustment("107", 6, 10)], opening) == []


# --- SKUs, kits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "rules", "want"),
    [
        (" odd.sku-7 ", SkuSettings(strip_characters=".", case="upper"), "ODDSKU-7"),
        ("Old-Name", SkuSettings(aliases={"old-name": "NEW-1"}, case="lower"), "new-1"),
        ("00123", SkuSettings(leading_zeros="strip"), "123"),
        ("000", SkuSettings(leading_zeros="strip"), "0"),
        ("42", SkuSettings(leading_zeros="pad", pad_width=5), "00042"),
        ("A042", SkuSettings(leading_zeros="strip"), "A042"),  # only all-digit SKUs
    ],
)
def test_warehouse_sku(raw: str, rules: SkuSettings, want: str) -> None:
    assert warehouse_sku(raw, rules) == want


def _ims_items(**items: Any) -> dict[str, Any]:
    return {"items": items}


def _item(active: bool = True, members: list[tuple[str, int]] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"isInactive": not active, "itemType": "Kit" if members else "InvtPart"}
    if members:
        found["members"] = [{"itemId": s, "quantity": q} for s, q in members]
    return found


def test_kits_of_kits_flatten_in_member_order_with_repeats_added() -> None:
    ims = _ims_items(
        A=_item(),
        B=_item(),
        BOX=_item(members=[("A", 2), ("B", 1)]),
        MEGA=_item(members=[("BOX", 2), ("A", 1)]),
    )
    catalog = Catalog.read(ims, {}, SkuSettings())
    assert catalog.components("MEGA", 3) == [("A", 15), ("B", 6)]


# --- orders -------------------------------------------------------------------------------------------
def _order(ref: str, lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {
        "tranId": ref,
        "status": extra.get("status", "B"),
        "shipMethod": extra.get("ship", "UPS Ground"),
        "shippingAddress": extra.get("address", ADDRESS),
        "email": "a@example.com",
        "createdDate": "2026-11-26T09:00:00Z",
        "lines": [
            {"line": n, "itemId": sku, "quantity": q, "quantityFulfilled": 0, "isClosed": False}
            for n, (sku, q) in enumerate(lines, start=1)
        ],
    }


CATALOG = Catalog.read(
    _ims_items(
        **{
            "MUG-1": _item(),
            "TEA-2": _item(),
            "odd.sku-7": _item(),
            "OLD-9": _item(active=False),
            "GIFT": _item(members=[("MUG-1", 2), ("TEA-2", 1)]),
            "ab-1": _item(),
            "AB.-1": _item(),  # both become AB-1: a collision
            "bad sku": _item(),
        }
    ),
    {"MUG-1": {"active": True}, "TEA-2": {"active": True}, "ODDSKU-7": {"active": False}},
    SETTINGS.sku_rules,
)


def test_a_good_order_is_normalised_de_kitted_and_mapped() -> None:
    order = _order("SO1", [("MUG-1", 1), ("GIFT", 2)], ship="  ups   ground ")
    order["lines"][0]["quantity"] = 3
    order["lines"][0]["quantityFulfilled"] = 1  # fulfilled by hand: the warehouse ships the rest
    expected = expected_order(order, CATALOG, SETTINGS)
    assert expected.live
    assert expected.lines == (("1", "MUG-1", 2), ("2.1", "MUG-1", 4), ("2.2", "TEA-2", 2))
    assert expected.ship_method == "STD"


@pytest.mark.parametrize(
    ("lines", "extra", "holds"),
    [
        ([("NOPE", 1)], {}, ("unknown_item",)),
        ([("OLD-9", 1)], {}, ("inactive_item",)),
        ([("odd.sku-7", 1)], {}, ("inactive_in_wms",)),
        ([("ab-1", 1)], {}, ("sku_collision",)),
        ([("bad sku", 1)], {}, ("invalid_sku",)),
        ([("MUG-1", 1)], {"ship": "Royal Mail"}, ("unmapped_ship_method",)),
        ([("MUG-1", 1)], {"ship": None}, ("unmapped_ship_method",)),
        ([("MUG-1", 1)], {"address": {**ADDRESS, "zip": ""}}, ("incomplete_address",)),
        ([("MUG-1", 1)], {"address": {**ADDRESS, "zip": "12345"}}, ("incomplete_address",)),
        ([("MUG-1", 1)], {"address": {**ADDRESS, "country": "US", "zip": "22201"}}, ("incomplete_address",)),
        ([("OLD-9", 1)], {"ship": "?"}, ("inactive_item", "unmapped_ship_method")),
    ],
)
def test_a_problem_holds_the_whole_order_with_every_reason(
    lines: list[tuple[str, int]], extra: dict[str, Any], holds: tuple[str, ...]
) -> None:
    expected = expected_order(_order("SO2", [("MUG-1", 1), *lines], **extra), CATALOG, SETTINGS)
    assert not expected.live
    assert expected.holds == holds


def test_kits_nested_too_deep_are_held() -> None:
    chain: dict[str, Any] = {"MUG-1": _item()}
    for level in range(1, 7):
        chain[f"K{level}"] = _item(members=[("MUG-1" if level == 1 else f"K{level - 1}", 1)])
    catalog = Catalog.read({"items": chain}, {"MUG-1": {"active": True}}, SkuSettings())
    assert expected_order(_order("SO3", [("K5", 1)]), catalog, SETTINGS).live
    assert expected_order(_order("SO3", [("K6", 1)]), catalog, SETTINGS).holds == ("bad_kit",)


@pytest.mark.parametrize(
    ("status", "closed", "why"),
    [("C", False, "cancelled"), ("A", False, "waiting"), ("B", True, "nothing_open")],
)
def test_orders_not_live_in_the_warehouse(status: str, closed: bool, why: str) -> None:
    order = _order("SO4", [("MUG-1", 1)], status=status)
    order["lines"][0]["isClosed"] = closed
    expected = expected_order(order, CATALOG, SETTINGS)
    assert (expected.live, expected.why_not) == (False, why)


def _clarus_order(
    lines: list[tuple[str, str, int]], status: str = "received", **extra: Any
) -> dict[str, Any]:
    ship_to = {"name": "Ada", "line1": "1 St", "line2": None, "city": "London", "region": None,
               "postcode": "N1 9GU", "country": "GB"}  # fmt: skip
    return {
        "status": status,
        "ship_method": extra.get("ship_method", "STD"),
        "ship_to": {**ship_to, **extra.get("ship_to", {})},
        "lines": [{"line_ref": r, "sku": s, "quantity": q} for r, s, q in lines],
    }


def test_check_orders_finds_every_kind_of_difference() -> None:
    ims = {
        "OK": _order("OK", [("MUG-1", 1)]),
        "SHORT": _order("SHORT", [("MUG-1", 2)]),
        "HELD": _order("HELD", [("OLD-9", 1)]),
        "GONE": _order("GONE", [("MUG-1", 1)], status="C"),
        "LOST": _order("LOST", [("MUG-1", 1)]),
        "SHIP": _order("SHIP", [("MUG-1", 1)]),
        "ADDR": _order("ADDR", [("MUG-1", 1)]),
        "PICK": _order("PICK", [("MUG-1", 5)]),
    }
    clarus = {
        "OK": _clarus_order([("1", "MUG-1", 1)]),
        "SHORT": _clarus_order([("1", "MUG-1", 1)]),
        "HELD": _clarus_order([("1", "OLD-9", 1)]),  # sent although it should be held
        "GONE": _clarus_order([("1", "MUG-1", 1)], status="cancelled"),
        "SHIP": _clarus_order([("1", "MUG-1", 1)], ship_method="NDAY"),
        "ADDR": _clarus_order([("1", "MUG-1", 1)], ship_to={"city": "Paris"}),
        "PICK": _clarus_order([("1", "MUG-1", 1)], status="picking"),
    }
    frozen = {"PICK": _clarus_order([("1", "MUG-1", 1)])}
    report = check_orders(ims, clarus, CATALOG, SETTINGS, frozen=frozen)
    assert report.mismatched == ["ADDR", "HELD", "LOST", "SHIP", "SHORT"]
    assert (report.released, report.cancelled, report.locked) == (6, 1, 1)
    assert dict(report.held) == {"inactive_item": 1}
    report = check_orders(ims, clarus, CATALOG, SETTINGS)  # without what it held: PICK differs
    assert "PICK" in report.mismatched


# --- fulfilments --------------------------------------------------------------------------------------
def _shipment(sid: str, ref: str, lines: list[tuple[str, str, int]], seq: int) -> dict[str, Any]:
    return {
        "shipment_id": sid,
        "reference": ref,
        "sequence": seq,
        "despatched_at": "2026-11-26T10:00:00.500000Z",
        "lines": [{"line_ref": r, "sku": s, "quantity": q} for r, s, q in lines],
    }


def _made(sid: str, lines: dict[int, int], external: str | None = None) -> dict[str, Any]:
    return {
        "externalId": external if external is not None else f"sb-if-{sid}",
        "lines": [{"orderLine": n, "quantity": q} for n, q in lines.items()],
    }


ORDERS = {"SO1": _order("SO1", [("MUG-1", 3), ("GIFT", 2)])}


def test_fulfilments_made_right_pass() -> None:
    shipments = {
        "S1": _shipment("S1", "SO1", [("1", "MUG-1", 1), ("2.1", "MUG-1", 3), ("2.2", "TEA-2", 1)], 1),
        "S2": _shipment("S2", "SO1", [("1", "MUG-1", 2), ("2.1", "MUG-1", 1), ("2.2", "TEA-2", 1)], 2),
    }
    made = [_made("S1", {1: 1, 2: 1}), _made("S2", {1: 2, 2: 1}), _made("x", {1: 1}, external="by-hand")]
    notices = [{"shipment": "S1", "if_existed": True}, {"shipment": "S2", "if_existed": True}]
    report = check_fulfilments(shipments, ORDERS, made, CATALOG, notices)
    assert report.problems == 0
    assert (report.item_fulfilments, report.must_fulfil, report.notices) == (2, 2, 2)


def test_a_bundle_reported_by_the_later_parcel_is_fine_when_heard_in_that_order() -> None:
    shipments = {
        "S1": _shipment("S1", "SO1", [("2.1", "MUG-1", 1), ("2.2", "TEA-2", 1)], 1),  # half a bundle
        "S2": _shipment("S2", "SO1", [("2.1", "MUG-1", 3), ("2.2", "TEA-2", 1)], 2),
    }
    report = check_fulfilments(shipments, ORDERS, [_made("S2", {2: 2})], CATALOG)
    assert report.problems == 0
    assert report.must_fulfil == 1


def test_lost_doubled_unexpected_and_wrong_fulfilments_are_found() -> None:
    shipments = {
        "LOST": _shipment("LOST", "SO1", [("1", "MUG-1", 1)], 1),
        "TWICE": _shipment("TWICE", "SO1", [("1", "MUG-1", 1)], 2),
        "WRONG": _shipment("WRONG", "SO1", [("1", "MUG-1", 1)], 3),
        "PARKED": _shipment("PARKED", "SO-NOT-YET", [("1", "MUG-1", 1)], 4),
    }
    made = [_made("TWICE", {1: 1}), _made("TWICE", {1: 1}), _made("WRONG", {1: 2}), _made("GHOST", {1: 1})]
    report = check_fulfilments(shipments, ORDERS, made, CATALOG)
    assert report.lost == ["LOST"]
    assert report.doubled == ["TWICE"]
    assert report.unexpected == ["GHOST"]
    # The order line's totals happen to agree (LOST's unit is made up by WRONG's extra one): the
    # per-shipment check still names WRONG.
    assert report.wrong == ["WRONG"]
    assert report.waiting_for_order == ["PARKED"]


def test_a_shipment_for_an_order_cancelled_in_the_ims_is_for_a_person_not_lost() -> None:
    orders = {"SO1": {**ORDERS["SO1"], "status": "C"}}
    shipments = {"S1": _shipment("S1", "SO1", [("1", "MUG-1", 1)], 1)}
    report = check_fulfilments(shipments, orders, [], CATALOG)
    assert (report.lost, report.order_closed, report.problems) == ([], ["S1"], 0)


def test_order_line_totals_catch_a_bundle_reported_short() -> None:
    shipments = {"S1": _shipment("S1", "SO1", [("2.1", "MUG-1", 4), ("2.2", "TEA-2", 2)], 1)}
    report = check_fulfilments(shipments, ORDERS, [_made("S1", {2: 1})], CATALOG)
    assert report.wrong == ["SO1/2"]


def test_notices_early_doubled_and_missing() -> None:
    shipments = {sid: _shipment(sid, "SO1", [("1", "MUG-1", 1)], n) for n, sid in enumerate(["A", "B", "C"])}
    made = [_made(sid, {1: 1}) for sid in shipments]
    notices = [
        {"shipment": "A", "if_existed": False},
        {"shipment": "B", "if_existed": True},
        {"shipment": "B", "if_existed": True},
    ]
    report = check_fulfilments(shipments, ORDERS, made, CATALOG, notices)
    assert (report.notices_early, report.notices_doubled, report.notices_missing) == (1, 1, ["C"])


def test_shipped_before_order_compares_the_simulators_timestamps() -> None:
    orders = {"SO1": {**ORDERS["SO1"], "createdDate": "2026-11-26T10:00:01Z"}}
    same_second = {"SO1": {**ORDERS["SO1"], "createdDate": "2026-11-26T10:00:00Z"}}
    shipments = {"S1": _shipment("S1", "SO1", [("1", "MUG-1", 1)], 1)}
    made = [_made("S1", {1: 1})]
    assert check_fulfilments(shipments, orders, made, CATALOG).shipped_before_order == ["S1"]
    assert check_fulfilments(shipments, same_second, made, CATALOG).shipped_before_order == []
