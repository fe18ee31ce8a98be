"""The Magento connector's pure parts: orders into storefront lines, error bodies into words, paging
to `total_count` against Magento's page clamp, and which shipment a retry is."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.connectors.magento.client import SearchCriteriaPaging, read_error, said, search_params
from stockbridge.connectors.magento.orders import MagentoShipment, _same_shipment
from stockbridge.connectors.magento.wire import order_from_json
from stockbridge.connectors.rest import PageRequest


def _item(
    item_id: int, sku: str, kind: str, qty: float, parent: int | None = None, **extra: Any
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "item_id": item_id,
        "sku": sku,
        "product_type": kind,
        "qty_ordered": qty,
        **extra,
    }
    if parent is not None:
        found["parent_item_id"] = parent
    return found


def _order(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "entity_id": 7,
        "increment_id": "000000007",
        "state": "processing",
        "status": "processing",
        "updated_at": "2026-11-30 09:15:00",
        "shipping_description": "Flat Rate - Fixed",
        "items": items,
        **extra,
    }


def test_a_bundle_is_its_components_and_never_a_line_itself() -> None:
    order = order_from_json(
        "magento",
        _order(
            [
                _item(1, "BOX", "bundle", 3),
                _item(2, "MUG", "simple", 6, parent=1),  # two per bundle, three bundles
                _item(3, "TEA", "simple", 3, parent=1, qty_shipped=1),
            ]
        ),
    )
    assert [(ln.line_item_id, ln.sku, ln.quantity, ln.unfulfilled) for ln in order.lines] == [
        ("2", "MUG", 6, 6),
        ("3", "TEA", 3, 2),
    ]


def test_a_bundle_choosing_one_component_twice_keeps_both_children() -> None:
    order = order_from_json(
        "magento",
        _order([_item(1, "BOX", "bundle", 2), _item(2, "X", "simple", 2, 1), _item(3, "X", "simple", 4, 1)]),
    )
    assert sum(ln.quantity for ln in order.lines if ln.sku == "X") == 6


def test_a_configurable_is_its_simple_with_the_parents_id_and_quantities() -> None:
    order = order_from_json(
        "magento",
        _order(
            [
                _item(1, "TEE-RED-M", "configurable", 2, qty_shipped=1, qty_canceled=0),
                _item(2, "TEE-RED-M", "simple", 2, parent=1, qty_shipped=0),
            ]
        ),
    )
    assert [(ln.line_item_id, ln.sku, ln.quantity, ln.unfulfilled) for ln in order.lines] == [
        ("1", "TEE-RED-M", 2, 1)
    ]


def test_virtual_items_ship_nothing_and_cancelled_units_are_not_wanted() -> None:
    order = order_from_json(
        "magento",
        _order(
            [_item(1, "GIFT-CARD", "virtual", 1, is_virtual=1), _item(2, "A", "simple", 5, qty_canceled=2)],
            state="canceled",
            status="canceled",
        ),
    )
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("A", 3)]
    assert order.cancelled_at == datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
    assert order.financial_status == "canceled"


def test_the_shipping_address_comes_from_the_shipping_assignment() -> None:
    address = {
        "firstname": "Ada",
        "lastname": "Lovelace",
        "street": ["1 Main St", "Flat 2"],
        "city": "Leeds",
        "region_code": "WYK",
        "postcode": "LS1 1AA",
        "country_id": "GB",
        "telephone": "0113",
    }
    raw = _order(
        [_item(1, "A", "simple", 1)],
        extension_attributes={"shipping_assignments": [{"shipping": {"address": address}}]},
    )
    found = order_from_json("magento", raw).address
    assert found is not None
    assert (found.name, found.line1, found.line2, found.region, found.country) == (
        "Ada Lovelace",
        "1 Main St",
        "Flat 2",
        "WYK",
        "GB",
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            {
                "message": "No such entity with %fieldName = %fieldValue",
                "parameters": {"fieldName": "id", "fieldValue": 9},
            },
            "No such entity with id = 9",
        ),
        ({"message": "Too much of %1 (%2)", "parameters": ["A", 3]}, "Too much of A (3)"),
        ({"message": "Missing %2", "parameters": ["only one"]}, "Missing %2"),
        (
            {
                "message": "Validation Failed",
                "errors": [{"message": '"%field" can not be empty.', "parameters": {"field": "sku"}}],
            },
            'Validation Failed: "sku" can not be empty.',
        ),
    ],
)
def test_error_bodies_are_read_with_their_parameters(body: dict[str, Any], words: str) -> None:
    assert read_error(httpx.Response(400, json=body)).message == words


def test_said_leaves_a_message_without_parameters_alone() -> None:
    assert said("100%1 sure", None) == "100%1 sure"


def test_search_params_bracket_filters_and_sorts() -> None:
    params = search_params([[("updated_at", "2026-11-30 09:00:00", "gteq")]], [("entity_id", "ASC")])
    assert params == {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": "2026-11-30 09:00:00",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gteq",
        "searchCriteria[sortOrders][0][field]": "entity_id",
        "searchCriteria[sortOrders][0][direction]": "ASC",
    }


@given(total=st.integers(0, 60), size=st.integers(1, 25))
def test_paging_reaches_total_count_once_although_magento_repeats_the_last_page(
    total: int, size: int
) -> None:
    records = list(range(total))

    def magento(page: int) -> dict[str, Any]:  # the clamp: a page past the last is the last again
        last = max(1, math.ceil(total / size))
        page = min(page, last)
        return {"items": records[(page - 1) * size : page * size], "total_count": total}

    paging = SearchCriteriaPaging(size)
    seen: list[int] = []
    token = None
    for _ in range(total + 2):
        request = paging.request(PageRequest("GET", "/orders"), token)
        body = magento(int(request.params["searchCriteria[currentPage]"]))
        page_records = paging.records(body)
        seen.extend(page_records)
        token = paging.next_token(body, token, page_records)
        if token is None:
            break
    assert seen == records


def test_a_retry_is_the_shipment_with_its_tracking_number_or_else_its_exact_lines() -> None:
    tracked = MagentoShipment("5", "7", (("1", 2),), ("T-1",))
    untracked = MagentoShipment("6", "7", (("1", 2), ("2", 1)), ())
    assert _same_shipment(tracked, {"T-1"}, {"9": 1})
    assert not _same_shipment(tracked, {"T-2"}, {"1": 2})
    assert _same_shipment(untracked, set(), {"1": 2, "2": 1})
    assert not _same_shipment(untracked, set(), {"1": 1})
    assert not _same_shipment(tracked, set(), {"1": 2})  # a tracked shipment is not an untracked retry


def test_the_public_surface_is_deliberate() -> None:
    from stockbridge.connectors import magento
    from stockbridge.simulators import magento as simulator

    assert magento.__all__ == [
        "MagentoClient",
        "MagentoOrders",
        "MagentoShipment",
        "MagentoStock",
        "MagentoStoreFulfilments",
        "Track",
    ]
    assert all(hasattr(magento, name) for name in magento.__all__)
    assert simulator.__all__ == ["MagentoSettings", "MagentoSimulator", "create_app", "serve"]
