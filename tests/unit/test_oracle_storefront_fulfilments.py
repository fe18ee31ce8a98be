"""The storefront fulfilment oracle finds what is wrong: lost, doubled, wrong lines, wrong status,
and (route ims) a fulfilment before its Item Fulfilment."""

from __future__ import annotations

from typing import Any

from stockbridge.oracle import check_storefront_fulfilments
from stockbridge.oracle.catalog import Catalog, ImsItem
from stockbridge.oracle.settings import SkuSettings

RULES = SkuSettings()
CATALOG = Catalog(
    {"MUG-1": ImsItem(True), "TEA-2": ImsItem(True), "GIFT-BOX": ImsItem(True, (("MUG-1", 2), ("TEA-2", 1)))},
    {"MUG-1": True, "TEA-2": True},
)
ITEMS = [
    {"id": 11, "sku": "MUG-1", "current_quantity": 2},
    {"id": 12, "sku": "GIFT-BOX", "current_quantity": 1},
]


def _shipment(sid: str, seq: int, number: str, lines: list[tuple[str, str, int]]) -> dict[str, Any]:
    return {
        "shipment_id": sid,
        "reference": "SHOP-1001",
        "carrier": "UPS",
        "tracking_numbers": [number],
        "sequence": seq,
        "lines": [{"line_ref": r, "sku": s, "quantity": q} for r, s, q in lines],
    }


SHIPMENTS = {
    "A": _shipment("A", 1, "1ZA", [("1", "MUG-1", 2), ("2.1", "MUG-1", 2)]),
    "B": _shipment("B", 2, "1ZB", [("2.2", "TEA-2", 1)]),
}


def _fulfilment(
    fid: int, number: str, lines: list[tuple[int, int]], at: str = "2026-01-01T10:00:05+00:00"
) -> dict[str, Any]:
    return {
        "id": fid,
        "tracking_company": "UPS",
        "tracking_numbers": [number],
        "created_at": at,
        "line_items": [{"id": i, "quantity": q} for i, q in lines],
    }


def _order(fulfilments: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {
        "name": "#1001",
        "line_items": ITEMS,
        "fulfillments": fulfilments,
        "display_fulfillment_status": status,
    }


def test_right_fulfilments_pass() -> None:
    order = _order([_fulfilment(1, "1ZA", [(11, 2)]), _fulfilment(2, "1ZB", [(12, 1)])], "FULFILLED")
    report = check_storefront_fulfilments([order], SHIPMENTS, CATALOG, RULES, prefix="SHOP-")
    assert report.problems == 0, report


def test_lost_doubled_wrong_and_status_are_found() -> None:
    doubled = [_fulfilment(1, "1ZB", [(12, 1)]), _fulfilment(2, "1ZB", [(12, 1)])]
    report = check_storefront_fulfilments(
        [_order(doubled, "FULFILLED")], SHIPMENTS, CATALOG, RULES, prefix="SHOP-"
    )
    assert report.lost == ["A"]
    assert report.doubled == ["B"]
    assert any("MUG-1" in w for w in report.wrong)
    assert any("GIFT-BOX" in w for w in report.wrong)  # two bundles fulfilled, one shipped
    partial = check_storefront_fulfilments(
        [_order([_fulfilment(1, "1ZA", [(11, 2)])], "FULFILLED")],
        {"A": SHIPMENTS["A"]},
        CATALOG,
        RULES,
        prefix="SHOP-",
    )
    assert partial.status == ["SHOP-1001: FULFILLED, expected PARTIALLY_FULFILLED"]


def test_route_ims_a_fulfilment_before_its_item_fulfilment_is_early() -> None:
    ims_orders = {"SHOP-1001": {"lines": [{"line": 1, "itemId": "MUG-1"}, {"line": 2, "itemId": "GIFT-BOX"}]}}
    item_fulfilments = [
        {"externalId": "sb-if-A", "createdAt": "2026-01-01T10:00:00Z"},
        {"externalId": "sb-if-B", "createdAt": "2026-01-01T10:00:09Z"},  # after the store's
    ]
    order = _order([_fulfilment(1, "1ZA", [(11, 2)]), _fulfilment(2, "1ZB", [(12, 1)])], "FULFILLED")
    report = check_storefront_fulfilments(
        [order],
        SHIPMENTS,
        CATALOG,
        RULES,
        prefix="SHOP-",
        ims_orders=ims_orders,
        ims_fulfilments=item_fulfilments,
    )
    assert report.early == ["2"]
    assert report.problems == 1
