"""The oracle's reading of Magento orders and source items (pure; shapes as the simulator shows them)."""

from __future__ import annotations

from typing import Any

from stockbridge.oracle.magento import as_order_view, check_magento_shipments, source_figures, warehouse_lines


def _item(
    item_id: int, sku: str, kind: str, qty: float, parent: int | None = None, **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {"item_id": item_id, "sku": sku, "product_type": kind, "qty_ordered": qty, **extra}
    if parent is not None:
        row["parent_item_id"] = parent
    return row


ORDER: dict[str, Any] = {
    "increment_id": "000000007",
    "state": "processing",
    "status": "processing",
    "shipping_description": "Flat Rate - Fixed",
    "items": [
        _item(1, "GIFT-SET", "bundle", 3),
        _item(2, "MUG-1", "simple", 6, parent=1),  # two mugs a bundle, three bundles
        _item(3, "TEA-2", "simple", 3, parent=1, qty_canceled=1),
        _item(4, "SHIRT-M", "configurable", 2, qty_canceled=1),
        _item(5, "SHIRT-M", "simple", 2, parent=4),  # follows its parent's quantities
        _item(6, "GIFT-CARD", "virtual", 1, is_virtual=1),
        _item(7, "SPOON-3", "simple", 1),
    ],
    "extension_attributes": {
        "shipping_assignments": [
            {
                "shipping": {
                    "address": {
                        "firstname": "Ada",
                        "lastname": "Lovelace",
                        "street": ["1 Test Street", "Flat 2"],
                        "city": "London",
                        "postcode": "N1 9GU",
                        "country_id": "GB",
                    }
                }
            }
        ]
    },
}


def test_bundles_become_their_components_and_a_configurable_its_simple() -> None:
    assert warehouse_lines(ORDER) == [("MUG-1", 6), ("TEA-2", 2), ("SHIRT-M", 1), ("SPOON-3", 1)]


def test_an_order_is_viewed_as_the_ims_order_it_stands_for() -> None:
    view = as_order_view(ORDER, "MAG-", frozenset({"processing"}))
    assert (view["tranId"], view["status"], view["shipMethod"]) == ("MAG-000000007", "B", "Flat Rate - Fixed")
    assert [(line["line"], line["itemId"]) for line in view["lines"]] == [
        (1, "MUG-1"),
        (2, "TEA-2"),
        (3, "SHIRT-M"),
        (4, "SPOON-3"),
    ]
    assert view["shippingAddress"]["addressee"] == "Ada Lovelace"
    assert view["shippingAddress"]["addr2"] == "Flat 2"
    assert as_order_view({**ORDER, "status": "pending"}, "MAG-", frozenset({"processing"}))["status"] == "A"
    assert as_order_view({**ORDER, "state": "canceled"}, "MAG-", frozenset({"processing"}))["status"] == "C"


def test_source_items_are_read_at_the_fed_sources_only() -> None:
    items = {
        "items": [
            {"sku": "MUG-1", "source_code": "default", "quantity": 4.0},
            {"sku": "MUG-1", "source_code": "other", "quantity": 9.0},
        ]
    }
    assert source_figures(items, {"default"}) == {("MUG-1", "default"): 4}


def _shipped(order: dict[str, Any], qty: dict[int, int], state: str, numbers: list[str]) -> dict[str, Any]:
    items = [{**i, "qty_shipped": qty.get(int(i["item_id"]), 0)} for i in order["items"]]
    shipments = [{"entity_id": n, "tracks": [{"track_number": t}]} for n, t in enumerate(numbers, start=1)]
    return {**order, "items": items, "state": state, "shipments": shipments}


def test_shipments_are_judged_against_what_clarus_shipped_per_line() -> None:
    clarus = {
        "SH-1": {"shipment_id": "SH-1", "reference": "MAG-000000007", "tracking_numbers": ["1Z1"],
                 "lines": [{"line_ref": "1", "quantity": 6}, {"line_ref": "3", "quantity": 1}]},
    }  # fmt: skip
    right = _shipped(ORDER, {2: 6, 4: 1}, "processing", ["1Z1"])
    assert check_magento_shipments([right], clarus, prefix="MAG-").problems == 0
    wrong_units = _shipped(ORDER, {2: 5, 4: 1}, "processing", ["1Z1"])
    assert check_magento_shipments([wrong_units], clarus, prefix="MAG-").wrong == [
        "MAG-000000007/MUG-1: shipped 6, Magento shows 5"
    ]
    doubled = check_magento_shipments(
        [_shipped(ORDER, {2: 6, 4: 1}, "processing", ["1Z1", "1Z1"])], clarus, prefix="MAG-"
    )
    assert doubled.doubled == ["SH-1"]
    lost = check_magento_shipments([_shipped(ORDER, {2: 6, 4: 1}, "processing", [])], clarus, prefix="MAG-")
    assert lost.lost == ["SH-1"]
    early_complete = check_magento_shipments(
        [_shipped(ORDER, {2: 6, 4: 1}, "complete", ["1Z1"])], clarus, prefix="MAG-"
    )
    assert early_complete.status == ["MAG-000000007: state complete"]
