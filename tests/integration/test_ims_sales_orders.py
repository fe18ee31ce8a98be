"""Kits, ship items, sales orders and item fulfilments on the IMS simulator, over real HTTP.

The simulator runs with an injected clock (`ImsSettings.clock`) that the tests move by hand, so
every timestamp is known in advance.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.servers import run_app

from stockbridge.simulators.ims import ImsSettings, create_app

RECORD = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"
BEARER = {"Authorization": "Bearer ims-dev-token"}
QUERY = {**BEARER, "Prefer": "transient"}
START = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)
ADDRESS = {
    "addressee": "Jane Doe",
    "addr1": "1 High Street",
    "city": "London",
    "zip": "SW1A 1AA",
    "country": "GB",
    "addrPhone": "+44 20 7946 0000",
}


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


CLOCK = Clock()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_app(create_app(ImsSettings(clock=CLOCK))) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    CLOCK.now = START
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/_control/reset").status_code == 200
        yield client


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json() if response.content else None


def _error(response: httpx.Response) -> dict[str, Any]:
    detail: dict[str, Any] = response.json()["o:errorDetails"][0]
    return detail


def _seed(http: httpx.Client, *items: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = _ok(http.post("/_control/items", json={"items": list(items)}))["ids"]
    return ids


def _orders(http: httpx.Client, *orders: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = _ok(http.post("/_control/sales_orders", json={"orders": list(orders)}))["ids"]
    return ids


def _order(http: httpx.Client, tran_id: str) -> dict[str, Any]:
    order: dict[str, Any] = _ok(http.get("/_control/sales_orders"))["orders"][tran_id]
    return order


def _rows(http: httpx.Client, q: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = _ok(http.post(SUITEQL, json={"q": q}, headers=QUERY))["items"]
    return [{k: v for k, v in row.items() if k != "links"} for row in rows]


def _record(http: httpx.Client, path: str, expand: bool = False) -> dict[str, Any]:
    params = {"expandSubResources": "true"} if expand else {}
    record: dict[str, Any] = _ok(http.get(f"{RECORD}/{path}", params=params, headers=BEARER))
    return record


def _skus(http: httpx.Client) -> dict[str, str]:
    return _seed(http, {"itemId": "SKU-1", "displayName": "Widget"}, {"itemId": "SKU-2"}, {"itemId": "SKU-3"})


def _simple(**extra: Any) -> dict[str, Any]:
    return {"lines": [{"itemId": "SKU-1", "quantity": 3}, {"itemId": "SKU-2", "quantity": 2}], **extra}


# --- items ----------------------------------------------------------------------------------------
def test_kits_with_members_and_a_kit_of_kits(http: httpx.Client) -> None:
    ids = _seed(
        http,
        {"itemId": "COMP-1"},
        {"itemId": "COMP-2"},
        {
            "itemId": "KIT-A",
            "itemType": "Kit",
            "displayName": "Pair",
            "members": [{"itemId": "COMP-1", "quantity": 2}, {"itemId": "COMP-2", "quantity": 1}],
        },
        {
            "itemId": "BUNDLE",
            "itemType": "Kit",
            "members": [{"itemId": "KIT-A", "quantity": 2}, {"itemId": "COMP-1", "quantity": 1}],
        },
    )
    plain = _record(http, f"kitItem/{ids['KIT-A']}")
    assert (plain["itemId"], plain["displayName"], plain["itemType"]) == ("KIT-A", "Pair", "kitItem")
    assert "items" not in plain["member"]
    bundle = _record(http, f"kitItem/{ids['BUNDLE']}", expand=True)
    members = [(m["item"]["id"], m["item"]["refName"], m["quantity"]) for m in bundle["member"]["items"]]
    assert members == [(ids["KIT-A"], "KIT-A", 2.0), (ids["COMP-1"], "COMP-1", 1.0)]
    assert bundle["member"]["items"][0]["item"]["links"][0]["href"].endswith(f"/kitItem/{ids['KIT-A']}")
    sublist = _ok(http.get(f"{RECORD}/kitItem/{ids['KIT-A']}/member", headers=BEARER))
    assert [m["quantity"] for m in sublist["items"]] == [2.0, 1.0]
    # SuiteQL: kit members, the item type, and no stock rows for kits
    q = (
        "SELECT parentitem, item, quantity FROM kititemmember "
        f"WHERE parentitem = {ids['BUNDLE']} ORDER BY linenumber"
    )
    assert _rows(http, q) == [
        {"parentitem": ids["BUNDLE"], "item": ids["KIT-A"], "quantity": "2"},
        {"parentitem": ids["BUNDLE"], "item": ids["COMP-1"], "quantity": "1"},
    ]
    kits = _rows(http, "SELECT itemid FROM item WHERE itemtype = 'Kit' ORDER BY id")
    assert kits == [{"itemid": "KIT-A"}, {"itemid": "BUNDLE"}]
    assert _rows(http, f"SELECT COUNT(*) AS n FROM inventoryitemlocations WHERE item = {ids['KIT-A']}") == [
        {"n": "0"}
    ]
    # a kit is not an inventory item, and the other way round
    assert http.get(f"{RECORD}/inventoryItem/{ids['KIT-A']}", headers=BEARER).status_code == 404
    assert http.get(f"{RECORD}/kitItem/{ids['COMP-1']}", headers=BEARER).status_code == 404
    listed = _ok(http.get(f"{RECORD}/inventoryItem", headers=BEARER))
    assert [i["id"] for i in listed["items"]] == [ids["COMP-1"], ids["COMP-2"]]
    kit_list = _ok(http.get(f"{RECORD}/kitItem", params={"q": 'itemId IS "bundle"'}, headers=BEARER))
    assert [i["id"] for i in kit_list["items"]] == [ids["BUNDLE"]]
    # a kit cannot contain itself, even through another kit; unknown members are named
    cycle = http.patch("/_control/items/KIT-A", json={"members": [{"itemId": "BUNDLE", "quantity": 1}]})
    assert cycle.status_code == 400
    assert "itself" in cycle.json()["error"]
    unknown = http.post(
        "/_control/items",
        json={
            "items": [{"itemId": "KIT-X", "itemType": "Kit", "members": [{"itemId": "NOPE", "quantity": 1}]}]
        },
    )
    assert unknown.status_code == 400
    assert "NOPE" in unknown.json()["error"]
    assert (
        http.post(
            "/_control/items", json={"items": [{"itemId": "KIT-A", "itemType": "InvtPart"}]}
        ).status_code
        == 400
    )


def test_control_item_patch_changes_name_and_flag_and_bumps_last_modified(http: httpx.Client) -> None:
    ids = _seed(
        http, {"itemId": "SKU-1"}, {"itemId": "KIT", "itemType": "Kit", "members": [{"itemId": "SKU-1"}]}
    )
    CLOCK.advance(minutes=1)
    patched = _ok(http.patch("/_control/items/SKU-1", json={"displayName": "Renamed", "isInactive": True}))
    assert (patched["displayName"], patched["isInactive"]) == ("Renamed", True)
    assert patched["lastModifiedDate"] == "2026-11-26T09:01:00Z"
    item = _record(http, f"inventoryItem/{ids['SKU-1']}")
    assert (item["displayName"], item["isInactive"], item["lastModifiedDate"]) == (
        "Renamed",
        True,
        "2026-11-26T09:01:00Z",
    )
    assert http.patch("/_control/items/SKU-1", json={"itemId": "OTHER"}).status_code == 400
    kit = _ok(http.patch("/_control/items/KIT", json={"members": [{"itemId": "SKU-1", "quantity": 4}]}))
    assert kit["itemType"] == "Kit"
    assert _record(http, f"kitItem/{ids['KIT']}", expand=True)["member"]["items"][0]["quantity"] == 4.0


def test_ship_items_have_defaults_and_can_be_added(http: httpx.Client) -> None:
    assert _rows(http, "SELECT id, itemid, isinactive FROM shipitem ORDER BY id") == [
        {"id": "1", "itemid": "UPS Ground", "isinactive": "F"},
        {"id": "2", "itemid": "UPS Next Day Air", "isinactive": "F"},
        {"id": "3", "itemid": "FedEx International", "isinactive": "F"},
        {"id": "4", "itemid": "Royal Mail Tracked 24", "isinactive": "F"},
    ]
    added = _ok(
        http.post(
            "/_control/ship_items", json={"items": [{"itemId": "DHL Express"}, {"itemId": "ups ground"}]}
        )
    )
    assert added == {"ids": {"DHL Express": "5", "ups ground": "1"}}
    assert _record(http, "shipItem/5") | {"links": None} == {
        "links": None,
        "id": "5",
        "itemId": "DHL Express",
        "isInactive": False,
    }


# --- sales orders -----------------------------------------------------------------------------------
def test_sales_order_create_and_read_with_expanded_sublists(http: httpx.Client) -> None:
    ids = _skus(http)
    _seed(http, {"itemId": "KIT-1", "itemType": "Kit", "members": [{"itemId": "SKU-1", "quantity": 2}]})
    created = _orders(
        http,
        {
            "shipMethod": "UPS Ground",
            "shippingAddress": ADDRESS,
            "memo": "gift",
            "lines": [
                {"itemId": "SKU-1", "quantity": 2, "rate": 9.99},
                {"itemId": "KIT-1", "quantity": 1, "description": "bundle"},
            ],
        },
    )
    assert created == {"SO1001": "1001"}
    plain = _record(http, "salesOrder/1001")
    assert plain["tranId"] == "SO1001"
    assert plain["orderStatus"] == {"id": "B", "refName": "Pending Fulfillment"}
    assert (plain["shipMethod"]["id"], plain["shipMethod"]["refName"]) == ("1", "UPS Ground")
    assert (plain["entity"]["id"], plain["entity"]["refName"]) == ("501", "Web Customer")
    assert plain["location"]["id"] == "6"
    assert plain["memo"] == "gift"
    assert plain["createdDate"] == plain["lastModifiedDate"] == "2026-11-26T09:00:00Z"
    assert plain["shipAddress"] == "Jane Doe\n1 High Street\nLondon SW1A 1AA\nUnited Kingdom"
    assert set(plain["item"]) == {"links"}  # sublists and subrecords are links unless expanded
    assert set(plain["shippingAddress"]) == {"links"}
    full = _record(http, "salesOrder/1001", expand=True)
    address = {k: v for k, v in full["shippingAddress"].items() if k not in ("links", "addrText")}
    assert address == {**ADDRESS, "country": {"id": "GB", "refName": "United Kingdom"}}
    lines = [{k: v for k, v in ln.items() if k not in ("links", "location")} for ln in full["item"]["items"]]
    item_ref = {"links": [{"rel": "self", "href": f"{http.base_url}{RECORD}/inventoryItem/{ids['SKU-1']}"}]}
    assert lines[0] == {
        "line": 1,
        "item": {**item_ref, "id": ids["SKU-1"], "refName": "SKU-1"},
        "itemType": "InvtPart",
        "quantity": 2.0,
        "quantityFulfilled": 0.0,
        "quantityBilled": 0.0,
        "quantityCommitted": 0.0,
        "isClosed": False,
        "rate": 9.99,
        "amount": 19.98,
    }
    assert (lines[1]["itemType"], lines[1]["item"]["refName"], lines[1]["description"]) == (
        "Kit",
        "KIT-1",
        "bundle",
    )
    sublist = _ok(http.get(f"{RECORD}/salesOrder/1001/item", headers=BEARER))
    assert [ln["line"] for ln in sublist["items"]] == [1, 2]
    assert _ok(http.get(f"{RECORD}/salesOrder/1001/shippingAddress", headers=BEARER))["city"] == "London"
    # the record API creates too: 204 + Location, next document number
    body = {
        "entity": {"id": "501"},
        "externalId": "WEB-77",
        "shipMethod": {"id": "2"},
        "item": {"items": [{"item": {"id": ids["SKU-2"]}, "quantity": 1}]},
    }
    posted = http.post(f"{RECORD}/salesOrder", json=body, headers=BEARER)
    assert posted.status_code == 204, posted.text
    assert posted.headers["Location"].endswith(f"{RECORD}/salesOrder/1002")
    by_eid = _record(http, "salesOrder/eid:WEB-77")
    assert (by_eid["tranId"], by_eid["shipMethod"]["refName"]) == ("SO1002", "UPS Next Day Air")
    assert "shipAddress" not in by_eid


def test_sales_order_input_is_validated_and_atomic(http: httpx.Client) -> None:
    _skus(http)
    refused = http.post(
        "/_control/sales_orders", json={"orders": [_simple(), {"lines": [{"itemId": "NOPE", "quantity": 1}]}]}
    )
    assert refused.status_code == 400
    assert "NOPE" in refused.json()["error"]
    assert _ok(http.get("/_control/sales_orders")) == {"orders": {}}
    assert (
        http.post("/_control/sales_orders", json={"orders": [_simple(shipMethod="Pigeon")]}).status_code
        == 400
    )
    # the control API seeds orders with inactive items (placed before the item was retired)
    _ok(http.patch("/_control/items/SKU-3", json={"isInactive": True}))
    old = _orders(http, {"tranId": "OLD-1", "lines": [{"itemId": "SKU-3", "quantity": 1}]})["OLD-1"]
    assert old == "1002"  # the refused bulk create above used up id 1001
    inactive = {"entity": {"id": "501"}, "item": {"items": [{"item": {"id": "103"}, "quantity": 1}]}}
    refused_inactive = http.post(f"{RECORD}/salesOrder", json=inactive, headers=BEARER)
    assert "inactive" in _error(refused_inactive)["detail"]
    _orders(http, _simple(tranId="WEB-1"))
    assert http.post("/_control/sales_orders", json={"orders": [_simple(tranId="WEB-1")]}).status_code == 400
    strict = {**BEARER, "X-NetSuite-PropertyNameValidation": "error"}
    body = {"entity": {"id": "501"}, "item": {"items": [{"item": {"id": "101"}, "quantity": 1, "bin": "A"}]}}
    bad_name = http.post(f"{RECORD}/salesOrder", json=body, headers=strict)
    assert bad_name.status_code == 400
    assert _error(bad_name)["o:errorPath"] == "item.items[0].bin"
    no_entity = http.post(f"{RECORD}/salesOrder", json={"item": body["item"]}, headers=BEARER)
    assert _error(no_entity) | {"detail": None} == {
        "detail": None,
        "o:errorCode": "INVALID_CONTENT",
        "o:errorPath": "entity",
    }
    bad_item = {"entity": {"id": "501"}, "item": {"items": [{"item": {"id": "9999"}, "quantity": 1}]}}
    assert (
        _error(http.post(f"{RECORD}/salesOrder", json=bad_item, headers=BEARER))["o:errorPath"]
        == "item.items[0].item"
    )
    # inventory adjustments do not see sales orders
    assert http.get(f"{RECORD}/inventoryAdjustment/{old}", headers=BEARER).status_code == 404
    assert _ok(http.get(f"{RECORD}/inventoryAdjustment", headers=BEARER))["totalResults"] == 0


def test_collection_query_by_tran_id_and_last_modified(http: httpx.Client) -> None:
    _skus(http)
    _orders(http, _simple(), _simple())
    CLOCK.advance(minutes=10)
    _orders(http, _simple())

    def ids(q: str) -> list[str]:
        page = _ok(http.get(f"{RECORD}/salesOrder", params={"q": q}, headers=BEARER))
        return [item["id"] for item in page["items"]]

    assert ids('tranId IS "SO1002"') == ["1002"]
    assert ids('lastModifiedDate ON_OR_AFTER "2026-11-26T09:05:00Z"') == ["1003"]
    assert ids('orderStatus IS "B" AND lastModifiedDate BEFORE "2026-11-26T09:05:00Z"') == ["1001", "1002"]


def test_suiteql_poll_by_last_modified_date_with_to_date(http: httpx.Client) -> None:
    _skus(http)
    _orders(http, _simple(), _simple(), _simple(shipMethod="FedEx International"))
    CLOCK.advance(minutes=5)
    _ok(http.patch("/_control/sales_orders/1002", json={"lines": [{"line": 1, "quantity": 4}]}))
    patched = http.patch(f"{RECORD}/salesOrder/1003", json={"memo": "call first"}, headers=BEARER)
    assert patched.status_code == 204
    since = "TO_DATE('2026-11-26 09:05:00', 'YYYY-MM-DD HH24:MI:SS')"
    q = (
        "SELECT id, tranid, status, shipmethod, entity, lastmodifieddate FROM transaction "
        f"WHERE type = 'SalesOrd' AND lastmodifieddate >= {since} ORDER BY id"
    )
    assert _rows(http, q) == [
        {
            "id": "1002",
            "tranid": "SO1002",
            "status": "B",
            "entity": "501",
            "lastmodifieddate": "2026-11-26 09:05:00",
        },
        {
            "id": "1003",
            "tranid": "SO1003",
            "status": "B",
            "shipmethod": "3",
            "entity": "501",
            "lastmodifieddate": "2026-11-26 09:05:00",
        },
    ]
    stamp = "TO_TIMESTAMP('2026-11-26 09:04:59', 'YYYY-MM-DD HH24:MI:SS')"
    assert len(_rows(http, f"SELECT id FROM transaction WHERE lastmodifieddate > {stamp}")) == 2
    iso = "TO_DATE('2026-11-26T09:00:01', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    assert len(_rows(http, f"SELECT id FROM transaction WHERE lastmodifieddate >= {iso}")) == 2
    lines = _rows(
        http,
        "SELECT tl.transaction, tl.linesequencenumber, tl.item, tl.quantity, tl.quantityshiprecv, "
        "tl.isclosed, tl.mainline FROM transactionline tl JOIN transaction t ON t.id = tl.transaction "
        "WHERE t.type = 'SalesOrd' AND t.id = 1002 ORDER BY tl.linesequencenumber",
    )
    assert lines == [
        {
            "transaction": "1002",
            "linesequencenumber": "1",
            "item": "101",
            "quantity": "4",
            "quantityshiprecv": "0",
            "isclosed": "F",
            "mainline": "F",
        },
        {
            "transaction": "1002",
            "linesequencenumber": "2",
            "item": "102",
            "quantity": "2",
            "quantityshiprecv": "0",
            "isclosed": "F",
            "mainline": "F",
        },
    ]


def test_edits_bump_last_modified_date_and_version(http: httpx.Client) -> None:
    ids = _skus(http)
    _orders(http, _simple(shipMethod="UPS Ground"))
    first = _order(http, "SO1001")
    assert first["lastModifiedDate"] == "2026-11-26T09:00:00Z"
    CLOCK.advance(seconds=30)
    edit = {
        "shipMethod": {"id": "4"},
        "shippingAddress": {"city": "Leeds", "country": {"id": "GB"}},
        "item": {
            "items": [{"line": 2, "quantity": 5}, {"item": {"id": ids["SKU-3"]}, "quantity": 1, "rate": 2.5}]
        },
    }
    assert http.patch(f"{RECORD}/salesOrder/1001", json=edit, headers=BEARER).status_code == 204
    record = _record(http, "salesOrder/1001", expand=True)
    assert record["lastModifiedDate"] == "2026-11-26T09:00:30Z"
    assert record["createdDate"] == "2026-11-26T09:00:00Z"
    assert record["shipMethod"]["refName"] == "Royal Mail Tracked 24"
    assert record["shippingAddress"]["city"] == "Leeds"
    assert [(ln["line"], ln["item"]["refName"], ln["quantity"]) for ln in record["item"]["items"]] == [
        (1, "SKU-1", 3.0),
        (2, "SKU-2", 5.0),
        (3, "SKU-3", 1.0),
    ]
    second = _order(http, "SO1001")
    assert second["version"] > first["version"]
    # a change within the same second keeps lastModifiedDate but still moves the hidden version
    closed = _ok(
        http.patch(
            "/_control/sales_orders/SO1001",
            json={"lines": [{"line": 3, "isClosed": True}], "shipMethod": None},
        )
    )
    assert closed["lastModifiedDate"] == "2026-11-26T09:00:30Z"
    assert closed["version"] > second["version"]
    assert closed["shipMethod"] is None
    assert [ln["isClosed"] for ln in closed["lines"]] == [False, False, True]
    unknown_line = http.patch(
        f"{RECORD}/salesOrder/1001", json={"item": {"items": [{"line": 9, "quantity": 1}]}}, headers=BEARER
    )
    assert _error(unknown_line)["o:errorPath"] == "item.items[0].line"
    replace = http.patch(f"{RECORD}/salesOrder/1001", params={"replace": "item"}, json={}, headers=BEARER)
    assert _error(replace)["o:errorCode"] == "INVALID_PARAMETER"


def test_approve_and_cancel_rules(http: httpx.Client) -> None:
    _skus(http)
    _orders(http, _simple(status="A"), _simple(), _simple())
    assert _order(http, "SO1001")["status"] == "A"
    assert _record(http, "salesOrder/1001")["orderStatus"] == {"id": "A", "refName": "Pending Approval"}
    pending = http.post("/_control/sales_orders/1001/fulfil", json={"lines": [{"line": 1, "quantity": 1}]})
    assert pending.status_code == 400  # not approved yet
    assert _ok(http.post("/_control/sales_orders/1001/approve"))["status"] == "B"
    assert http.post("/_control/sales_orders/1001/approve").status_code == 400
    cancelled = _ok(http.post("/_control/sales_orders/1002/cancel"))
    assert cancelled["status"] == "C"
    assert all(line["isClosed"] for line in cancelled["lines"])
    assert http.post("/_control/sales_orders/1002/cancel").status_code == 400
    assert http.post("/_control/sales_orders/1002/approve").status_code == 400
    _ok(http.post("/_control/sales_orders/1003/fulfil", json={"lines": [{"line": 1, "quantity": 1}]}))
    refused = http.post("/_control/sales_orders/1003/cancel")
    assert refused.status_code == 400
    assert "fulfilled" in refused.json()["error"].lower()
    assert _order(http, "SO1003")["status"] == "D"
    # the record API approves by setting orderStatus B; other status changes are refused
    url = f"{RECORD}/salesOrder/{_orders(http, _simple(status='A'))['SO1004']}"  # 1004 is the fulfilment
    assert http.patch(url, json={"orderStatus": {"id": "B"}}, headers=BEARER).status_code == 204
    assert _order(http, "SO1004")["status"] == "B"
    back = http.patch(url, json={"orderStatus": {"id": "A"}}, headers=BEARER)
    assert _error(back)["o:errorPath"] == "orderStatus"


def test_manual_fulfilment_raises_quantity_fulfilled_and_moves_status(http: httpx.Client) -> None:
    _skus(http)
    _orders(http, _simple())
    CLOCK.advance(minutes=1)
    partial = _ok(
        http.post("/_control/sales_orders/1001/fulfil", json={"lines": [{"line": 1, "quantity": 1}]})
    )
    assert partial["status"] == "D"
    assert [ln["quantityFulfilled"] for ln in partial["lines"]] == [1, 0]
    assert partial["lastModifiedDate"] == "2026-11-26T09:01:00Z"
    fulfilment = _record(http, f"itemFulfillment/{partial['itemFulfillment']}", expand=True)
    assert fulfilment["createdFrom"]["id"] == "1001"
    assert fulfilment["shipStatus"] == {"id": "C", "refName": "Shipped"}
    assert [
        (ln["orderLine"], ln["quantity"], ln["location"]["id"]) for ln in fulfilment["item"]["items"]
    ] == [(1, 1.0, "6")]
    record = _record(http, "salesOrder/1001", expand=True)
    assert record["orderStatus"]["id"] == "D"
    assert [ln["quantityFulfilled"] for ln in record["item"]["items"]] == [1.0, 0.0]
    # quantity below what was fulfilled is refused; the order is unchanged
    lower = http.patch(
        f"{RECORD}/salesOrder/1001", json={"item": {"items": [{"line": 1, "quantity": 0.5}]}}, headers=BEARER
    )
    assert lower.status_code == 400
    assert _error(lower) | {"detail": None} == {
        "detail": None,
        "o:errorCode": "INVALID_CONTENT",
        "o:errorPath": "item.items[0].quantity",
    }
    over = http.post("/_control/sales_orders/1001/fulfil", json={"lines": [{"line": 2, "quantity": 3}]})
    assert over.status_code == 400
    done = _ok(
        http.post(
            "/_control/sales_orders/1001/fulfil",
            json={"lines": [{"line": 1, "quantity": 2}, {"line": 2, "quantity": 2}]},
        )
    )
    assert done["status"] == "F"
    assert _ok(http.post("/_control/sales_orders/1001/bill"))["status"] == "G"
    rows = _rows(
        http,
        "SELECT tl.orderline, tl.quantity, t.createdfrom FROM transactionline tl JOIN transaction t "
        "ON t.id = tl.transaction WHERE t.type = 'ItemShip' ORDER BY t.id, tl.id",
    )
    assert [(r["orderline"], r["quantity"], r["createdfrom"]) for r in rows] == [
        ("1", "1", "1001"),
        ("1", "2", "1001"),
        ("2", "2", "1001"),
    ]
    state = _ok(http.get("/_control/state"))
    assert (state["salesOrders"], state["itemFulfillments"], state["adjustments"]) == (1, 2, 0)


def test_closing_lines_settles_the_status(http: httpx.Client) -> None:
    _skus(http)
    _orders(http, _simple(), _simple(), _simple())
    _ok(http.post("/_control/sales_orders/1001/fulfil", json={"lines": [{"line": 1, "quantity": 3}]}))
    closed = _ok(http.patch("/_control/sales_orders/1001", json={"lines": [{"line": 2, "isClosed": True}]}))
    assert closed["status"] == "F"  # the rest is closed: bill what shipped
    reopened = _ok(
        http.patch("/_control/sales_orders/1001", json={"lines": [{"line": 2, "isClosed": False}]})
    )
    assert reopened["status"] == "D"
    nothing = _ok(
        http.patch(
            "/_control/sales_orders/1002",
            json={"lines": [{"line": 1, "isClosed": True}, {"line": 2, "isClosed": True}]},
        )
    )
    assert nothing["status"] == "H"  # nothing shipped, nothing to bill
    assert (
        http.patch("/_control/sales_orders/1002", json={"lines": [{"line": 1, "quantity": 9}]}).status_code
        == 400
    )
    assert _ok(http.post("/_control/sales_orders/SO1003/close"))["status"] == "H"


def test_transform_to_item_fulfillment(http: httpx.Client) -> None:
    _skus(http)
    _orders(
        http,
        {
            "lines": [
                {"itemId": "SKU-1", "quantity": 3},
                {"itemId": "SKU-2", "quantity": 2},
                {"itemId": "SKU-3", "quantity": 1},
            ]
        },
    )
    url = f"{RECORD}/salesOrder/1001/!transform/itemFulfillment"
    body = {
        "externalId": "WMS-SHIP-1",
        "item": {
            "items": [
                {"orderLine": 1, "quantity": 2, "itemreceive": True, "location": 6},
                {"orderLine": 2, "itemreceive": False},
                {"orderLine": 3, "itemreceive": False},
            ]
        },
    }
    made = http.post(url, json=body, headers=BEARER)
    assert made.status_code == 204, made.text
    assert made.headers["Location"].endswith(f"{RECORD}/itemFulfillment/1002")
    fulfilment = _record(http, "itemFulfillment/eid:WMS-SHIP-1", expand=True)
    assert [(ln["orderLine"], ln["quantity"]) for ln in fulfilment["item"]["items"]] == [(1, 2.0)]
    assert [ln["quantityFulfilled"] for ln in _order(http, "SO1001")["lines"]] == [2, 0, 0]
    # the same external id again is refused and changes nothing
    again = http.post(url, json=body, headers=BEARER)
    assert again.status_code == 400
    assert _error(again)["o:errorCode"] == "INVALID_REQUEST"
    # more than the remaining quantity is refused
    over = http.post(url, json={"item": {"items": [{"orderLine": 1, "quantity": 2}]}}, headers=BEARER)
    assert over.status_code == 400
    assert _error(over) | {"detail": None} == {
        "detail": None,
        "o:errorCode": "INVALID_CONTENT",
        "o:errorPath": "item.items[0].quantity",
    }
    unknown = http.post(url, json={"item": {"items": [{"orderLine": 7, "quantity": 1}]}}, headers=BEARER)
    assert _error(unknown)["o:errorPath"] == "item.items[0].orderLine"
    assert [ln["quantityFulfilled"] for ln in _order(http, "SO1001")["lines"]] == [2, 0, 0]
    # lines not listed are fulfilled for what remains (as NetSuite's transform initialises them)
    rest = http.post(url, json={"item": {"items": [{"orderLine": 3, "itemreceive": False}]}}, headers=BEARER)
    assert rest.status_code == 204, rest.text
    order = _order(http, "SO1001")
    assert ([ln["quantityFulfilled"] for ln in order["lines"]], order["status"]) == ([3, 2, 0], "D")
    assert http.post(url, json={}, headers=BEARER).status_code == 204
    assert _order(http, "SO1001")["status"] == "F"
    nothing_left = http.post(url, json={}, headers=BEARER)
    assert nothing_left.status_code == 400
    listed = _ok(
        http.get(f"{RECORD}/itemFulfillment", params={"q": "createdFrom EQUAL 1001"}, headers=BEARER)
    )
    assert listed["totalResults"] == 3
    _orders(http, _simple(status="A"))
    assert (
        http.post(f"{RECORD}/salesOrder/1005/!transform/itemFulfillment", json={}, headers=BEARER).status_code
        == 400
    )
    assert (
        http.post(f"{RECORD}/salesOrder/999/!transform/itemFulfillment", json={}, headers=BEARER).status_code
        == 404
    )


def test_bulk_orders_and_reset(http: httpx.Client) -> None:
    _skus(http)
    ids = _orders(http, *(_simple() for _ in range(2000)))
    assert (len(ids), ids["SO1001"], ids["SO3000"]) == (2000, "1001", "3000")
    assert _rows(http, "SELECT COUNT(*) AS n FROM transaction WHERE type = 'SalesOrd'") == [{"n": "2000"}]
    assert len(_ok(http.get("/_control/sales_orders"))["orders"]) == 2000
    assert http.post("/_control/reset").status_code == 200
    assert _ok(http.get("/_control/sales_orders")) == {"orders": {}}
    _skus(http)
    assert _orders(http, _simple()) == {"SO1001": "1001"}
    assert len(_rows(http, "SELECT id FROM shipitem")) == 4
