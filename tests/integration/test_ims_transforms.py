"""Item fulfilments (with packages) and invoices transformed from sales orders on the IMS simulator,
over real HTTP: external ids, the fail-after-commit switch, status B → D → F → G, billing rules.

The simulator runs with an injected clock that the tests move by hand, so timestamps are known.
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
NOW = [START]
IF_URL = f"{RECORD}/salesOrder/1001/!transform/itemFulfillment"
INV_URL = f"{RECORD}/salesOrder/1001/!transform/invoice"
PACKAGES = {
    "items": [
        {"packageTrackingNumber": "1Z999AA10123456784", "packageWeight": 1.2, "packageDescr": "UPS"},
        {"packageTrackingNumber": "1Z999AA10123456785", "packageWeight": 0.5},
    ]
}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_app(create_app(ImsSettings(clock=lambda: NOW[0]))) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    NOW[0] = START
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.post("/_control/reset").status_code == 200
        _ok(client.post("/_control/items", json={"items": [{"itemId": f"SKU-{n}"} for n in (1, 2, 3)]}))
        order = {
            "shipMethod": "UPS Ground",
            "lines": [
                {"itemId": "SKU-1", "quantity": 3, "rate": 10.0},
                {"itemId": "SKU-2", "quantity": 2, "rate": 2.5},
            ],
        }
        assert _ok(client.post("/_control/sales_orders", json={"orders": [order]}))["ids"] == {
            "SO1001": "1001"
        }
        yield client


def _ok(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return response.json() if response.content else None


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    detail: dict[str, Any] = response.json()["o:errorDetails"][0]
    return detail


def _order(http: httpx.Client) -> dict[str, Any]:
    order: dict[str, Any] = _ok(http.get("/_control/sales_orders"))["orders"]["SO1001"]
    return order


def _quantities(http: httpx.Client) -> tuple[str, list[tuple[float, float]]]:
    order = _order(http)
    return order["status"], [(ln["quantityFulfilled"], ln["quantityBilled"]) for ln in order["lines"]]


def _record(http: httpx.Client, path: str, expand: bool = True) -> dict[str, Any]:
    params = {"expandSubResources": "true"} if expand else {}
    record: dict[str, Any] = _ok(http.get(f"{RECORD}/{path}", params=params, headers=BEARER))
    return record


def _post(http: httpx.Client, url: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return http.post(url, json=body, headers={**BEARER, **headers})


def _lines(*lines: tuple[int, float]) -> dict[str, Any]:
    return {"items": [{"orderLine": line, "quantity": qty} for line, qty in lines]}


def _only(*lines: tuple[int, float]) -> dict[str, Any]:
    """An item fulfilment sublist fulfilling just `lines` (the others listed with itemreceive false)."""
    listed = {line for line, _qty in lines}
    rest = [{"orderLine": n, "itemreceive": False} for n in (1, 2) if n not in listed]
    return {"items": [*_lines(*lines)["items"], *rest]}


# --- item fulfilments -----------------------------------------------------------------------------
def test_transform_with_packages_is_read_back_by_external_id(http: httpx.Client) -> None:
    NOW[0] += timedelta(minutes=5)
    body = {
        "externalId": "WMS-SHIP-1",
        "shipStatus": {"id": "B"},
        "shipMethod": {"id": "2"},
        "memo": "first box",
        "tranDate": "2026-11-25",
        "item": _only((1, 2)),
        "package": PACKAGES,
    }
    made = _post(http, IF_URL, body, **{"X-NetSuite-PropertyNameValidation": "error"})
    assert made.status_code == 204, made.text
    assert made.headers["Location"].endswith(f"{RECORD}/itemFulfillment/1002")
    record = _record(http, "itemFulfillment/eid:WMS-SHIP-1")
    assert {k: record[k] for k in ("id", "tranId", "externalId", "memo", "tranDate", "lastModifiedDate")} == {
        "id": "1002",
        "tranId": "IF1002",
        "externalId": "WMS-SHIP-1",
        "memo": "first box",
        "tranDate": "2026-11-25",
        "lastModifiedDate": "2026-11-26T09:05:00Z",
    }
    assert record["shipStatus"] == {"id": "B", "refName": "Packed"}
    assert (record["shipMethod"]["id"], record["shipMethod"]["refName"]) == ("2", "UPS Next Day Air")
    assert (record["createdFrom"]["id"], record["entity"]["refName"]) == ("1001", "Web Customer")
    assert [(ln["orderLine"], ln["quantity"]) for ln in record["item"]["items"]] == [(1, 2.0)]
    boxes = [{k: v for k, v in p.items() if k != "links"} for p in record["package"]["items"]]
    assert boxes == PACKAGES["items"]
    assert "items" not in _record(http, "itemFulfillment/1002", expand=False)["package"]
    sublist = _ok(http.get(f"{RECORD}/itemFulfillment/1002/package", headers=BEARER))
    assert (sublist["count"], sublist["items"][1]["packageTrackingNumber"]) == (2, "1Z999AA10123456785")
    listed = _ok(http.get("/_control/fulfilments"))["fulfilments"]
    assert listed == [
        {
            "id": "1002",
            "tranId": "IF1002",
            "externalId": "WMS-SHIP-1",
            "createdFrom": "SO1001",
            "orderId": "1001",
            "tranDate": "2026-11-25",
            "memo": "first box",
            "lines": [{"orderLine": 1, "itemId": "SKU-1", "quantity": 2}],
            "shipStatus": "B",
            "shipMethod": "UPS Next Day Air",
            "packages": PACKAGES["items"],
            "via": "transform",
            "createdAt": "2026-11-26T09:05:00Z",
            "seq": 1,
        }
    ]
    # without shipMethod the fulfilment takes the order's; without packages the sublist is empty
    assert _post(http, IF_URL, {"item": _only((1, 1))}).status_code == 204
    second = _record(http, "itemFulfillment/1003")
    assert (second["shipMethod"]["refName"], second["shipStatus"]["id"], second["package"]["count"]) == (
        "UPS Ground",
        "C",
        0,
    )
    assert [f["seq"] for f in _ok(http.get("/_control/fulfilments"))["fulfilments"]] == [1, 2]
    assert [f["id"] for f in _ok(http.get("/_control/fulfilments", params={"after": 1}))["fulfilments"]] == [
        "1003"
    ]


def test_duplicate_external_id_and_bad_details_are_refused(http: httpx.Client) -> None:
    assert _post(http, IF_URL, {"externalId": "S-1", "item": _only((1, 1))}).status_code == 204
    again = _error(_post(http, IF_URL, {"externalId": "S-1", "item": _only((1, 1))}))
    assert again["o:errorCode"] == "INVALID_REQUEST"
    strict = {"X-NetSuite-PropertyNameValidation": "error"}
    cases: list[tuple[dict[str, Any], dict[str, str], str]] = [
        ({"shipStatus": "X"}, {}, "shipStatus"),
        ({"shipMethod": {"id": "99"}}, {}, "shipMethod"),
        ({"tranDate": "26/11/2026"}, {}, "tranDate"),
        (
            {"package": {"items": [{"packageWeight": -1, "packageTrackingNumber": "1Z"}]}},
            {},
            "package.items[0].packageWeight",
        ),
        ({"package": {"items": [{}]}}, {}, "package.items[0].packageTrackingNumber"),
        ({"package": [{"packageTrackingNumber": "1Z"}]}, {}, "package"),
        ({"package": {"items": [{"trackingNumber": "1Z"}]}}, strict, "package.items[0].trackingNumber"),
    ]
    for extra, headers, path in cases:
        refused = _error(_post(http, IF_URL, {"item": _only((1, 1)), **extra}, **headers))
        assert (refused["o:errorCode"], refused["o:errorPath"]) == ("INVALID_CONTENT", path), extra
    assert _quantities(http) == ("D", [(1, 0), (0, 0)])
    assert len(_ok(http.get("/_control/fulfilments"))["fulfilments"]) == 1


def test_fail_after_commit_next_applies_the_transform_once(http: httpx.Client) -> None:
    faults = _ok(http.put("/_control/faults", json={"fail_after_commit_next": 1}))
    assert faults["fail_after_commit_next"] == 1
    assert http.get(f"{RECORD}/salesOrder/1001", headers=BEARER).status_code == 200  # reads do not count
    body = {"externalId": "WMS-SHIP-9", "item": _only((1, 2)), "package": PACKAGES}
    failed = _post(http, IF_URL, body)
    assert failed.status_code == 500
    assert failed.json()["o:errorDetails"][0]["o:errorCode"] == "UNEXPECTED_ERROR"
    assert _ok(http.get("/_control/faults"))["fail_after_commit_next"] == 0
    # the client looks the fulfilment up by its external id instead of creating another one
    found = _record(http, "itemFulfillment/eid:WMS-SHIP-9")
    assert (found["id"], [ln["quantity"] for ln in found["item"]["items"]]) == ("1002", [2.0])
    retry = _error(_post(http, IF_URL, body))
    assert retry["o:errorCode"] == "INVALID_REQUEST"
    assert _quantities(http) == ("D", [(2, 0), (0, 0)])
    assert [f["externalId"] for f in _ok(http.get("/_control/fulfilments"))["fulfilments"]] == ["WMS-SHIP-9"]
    # invoices (and any other write) are covered too; the count runs out after n writes
    _ok(http.put("/_control/faults", json={"fail_after_commit_next": 1}))
    assert _post(http, INV_URL, {"externalId": "INV-9"}).status_code == 500
    assert _record(http, "invoice/eid:INV-9")["id"] == "1003"
    assert _error(_post(http, INV_URL, {"externalId": "INV-9"}))["o:errorCode"] == "INVALID_REQUEST"
    assert _quantities(http) == ("D", [(2, 2), (0, 0)])
    assert http.put("/_control/faults", json={"fail_after_commit_next": -1}).status_code == 400
    assert _ok(http.get("/_control/stats"))["errors_5xx"] == 2


def test_the_rate_fault_applies_to_transforms(http: httpx.Client) -> None:
    _ok(http.put("/_control/faults", json={"fail_after_commit_rate": 1.0}))
    assert _post(http, IF_URL, {"externalId": "R-1"}).status_code == 500
    _ok(http.put("/_control/faults", json={"fail_after_commit_rate": 0.0}))
    assert _record(http, "itemFulfillment/eid:R-1")["id"] == "1002"
    assert _quantities(http) == ("F", [(3, 0), (2, 0)])


def test_partial_fulfilments_move_b_to_d_to_f_and_over_fulfilment_is_refused(http: httpx.Client) -> None:
    assert _order(http)["status"] == "B"
    assert _post(http, IF_URL, {"item": _only((1, 1))}).status_code == 204
    assert _quantities(http) == ("D", [(1, 0), (0, 0)])
    over = _error(_post(http, IF_URL, {"item": _only((1, 3))}))
    assert (over["o:errorCode"], over["o:errorPath"]) == ("INVALID_CONTENT", "item.items[0].quantity")
    assert _post(http, IF_URL, {"item": _only((1, 2), (2, 1))}).status_code == 204
    assert _quantities(http) == ("D", [(3, 0), (1, 0)])
    over = _error(_post(http, IF_URL, {"item": _lines((2, 2))}))
    assert over["o:errorPath"] == "item.items[0].quantity"
    assert _post(http, IF_URL, {"item": _lines((2, 1))}).status_code == 204
    assert _quantities(http) == ("F", [(3, 0), (2, 0)])
    assert _record(http, "salesOrder/1001")["orderStatus"] == {"id": "F", "refName": "Pending Billing"}
    assert _error(_post(http, IF_URL, {}))["o:errorCode"] == "INVALID_REQUEST"  # nothing left to ship


# --- invoices -------------------------------------------------------------------------------------
def test_invoices_bill_only_what_was_fulfilled_then_the_order_is_billed(http: httpx.Client) -> None:
    unfulfilled = _error(_post(http, INV_URL, {}))
    assert unfulfilled["o:errorCode"] == "INVALID_REQUEST"  # B: nothing fulfilled to bill
    assert _post(http, IF_URL, {"item": _only((1, 2))}).status_code == 204
    over = _error(_post(http, INV_URL, {"item": _lines((1, 3))}))
    assert (over["o:errorCode"], over["o:errorPath"]) == ("INVALID_CONTENT", "item.items[0].quantity")
    not_shipped = _error(_post(http, INV_URL, {"item": _lines((1, 1), (2, 1))}))
    assert not_shipped["o:errorPath"] == "item.items[1].quantity"
    assert _error(_post(http, INV_URL, {"item": _lines((7, 1))}))["o:errorPath"] == "item.items[0].orderLine"
    NOW[0] += timedelta(minutes=1)
    made = _post(http, INV_URL, {"externalId": "INV-1", "memo": "part", "item": _lines((1, 1))})
    assert made.status_code == 204, made.text
    assert made.headers["Location"].endswith(f"{RECORD}/invoice/1003")
    assert _quantities(http) == ("D", [(2, 1), (0, 0)])  # partially fulfilled stays D when billed
    duplicate = _error(_post(http, INV_URL, {"externalId": "INV-1", "item": _lines((1, 1))}))
    assert duplicate["o:errorCode"] == "INVALID_REQUEST"
    assert _quantities(http) == ("D", [(2, 1), (0, 0)])
    invoice = _record(http, "invoice/eid:INV-1")
    assert {k: invoice[k] for k in ("id", "tranId", "externalId", "memo", "total", "status")} == {
        "id": "1003",
        "tranId": "INV1003",
        "externalId": "INV-1",
        "memo": "part",
        "total": 10.0,
        "status": {"id": "A", "refName": "Open"},
    }
    assert invoice["createdFrom"]["id"] == "1001"
    lines = [
        (ln["orderLine"], ln["item"]["refName"], ln["quantity"], ln["amount"])
        for ln in invoice["item"]["items"]
    ]
    assert lines == [(1, "SKU-1", 1.0, 10.0)]
    assert _ok(http.get(f"{RECORD}/invoice/1003/item", headers=BEARER))["count"] == 1
    # the rest of the order ships; F until everything fulfilled is billed, then G
    assert _post(http, IF_URL, {}).status_code == 204
    assert _quantities(http) == ("F", [(3, 1), (2, 0)])
    assert _post(http, INV_URL, {"externalId": "INV-2", "item": _lines((2, 1))}).status_code == 204
    assert _quantities(http) == ("F", [(3, 1), (2, 1)])
    assert _post(http, INV_URL, {"externalId": "INV-3"}).status_code == 204  # no lines: all billable
    assert _quantities(http) == ("G", [(3, 3), (2, 2)])
    assert _record(http, "salesOrder/1001")["orderStatus"] == {"id": "G", "refName": "Billed"}
    assert _error(_post(http, INV_URL, {}))["o:errorCode"] == "INVALID_REQUEST"
    last = _record(http, "invoice/eid:INV-3")["item"]["items"]
    assert [(ln["orderLine"], ln["quantity"]) for ln in last] == [(1, 2.0), (2, 1.0)]
    rows = _ok(
        http.post(
            SUITEQL,
            json={
                "q": "SELECT id, externalid, createdfrom FROM transaction WHERE type = 'CustInvc' ORDER BY id"
            },
            headers=QUERY,
        )
    )["items"]
    assert [(r["externalid"], r["createdfrom"]) for r in rows] == [
        ("INV-1", "1001"),
        ("INV-2", "1001"),
        ("INV-3", "1001"),
    ]
    billed = _ok(
        http.post(
            SUITEQL,
            json={"q": "SELECT SUM(quantitybilled) AS n FROM transactionline WHERE transaction = 1001"},
            headers=QUERY,
        )
    )["items"]
    assert billed[0]["n"] == "5"
    listed = _ok(http.get("/_control/invoices"))["invoices"]
    assert [(i["externalId"], i["createdFrom"], i["seq"], i["via"]) for i in listed] == [
        ("INV-1", "SO1001", 1, "transform"),
        ("INV-2", "SO1001", 2, "transform"),
        ("INV-3", "SO1001", 3, "transform"),
    ]
    assert listed[0]["lines"] == [{"orderLine": 1, "itemId": "SKU-1", "quantity": 1}]
    assert listed[0]["createdAt"] == "2026-11-26T09:01:00Z"
    collection = _ok(http.get(f"{RECORD}/invoice", params={"q": "createdFrom EQUAL 1001"}, headers=BEARER))
    assert collection["totalResults"] == 3
    assert (
        http.post(f"{RECORD}/salesOrder/999/!transform/invoice", json={}, headers=BEARER).status_code == 404
    )


def test_control_bill_invoices_everything_and_reset_clears_documents(http: httpx.Client) -> None:
    _ok(http.post("/_control/sales_orders/1001/fulfil", json={"lines": [{"line": 1, "quantity": 3}]}))
    assert http.post("/_control/sales_orders/1001/bill").status_code == 400  # D: not from the control API
    _ok(http.patch("/_control/sales_orders/1001", json={"lines": [{"line": 2, "isClosed": True}]}))
    billed = _ok(http.post("/_control/sales_orders/1001/bill"))
    assert (billed["status"], billed["invoice"]) == ("G", "1003")
    assert [ln["quantityBilled"] for ln in billed["lines"]] == [3, 0]
    invoices = _ok(http.get("/_control/invoices"))["invoices"]
    assert [(i["id"], i["via"], i["lines"]) for i in invoices] == [
        ("1003", "control", [{"orderLine": 1, "itemId": "SKU-1", "quantity": 3}])
    ]
    assert _ok(http.get("/_control/fulfilments"))["fulfilments"][0]["via"] == "control"
    state = _ok(http.get("/_control/state"))
    assert (state["itemFulfillments"], state["invoices"]) == (1, 1)
    assert http.post("/_control/reset").status_code == 200
    assert _ok(http.get("/_control/fulfilments")) == {"fulfilments": []}
    assert _ok(http.get("/_control/invoices")) == {"invoices": []}
    assert http.get("/_control/invoices", params={"after": "x"}).status_code == 400


# --- record type names in any case (issue 8, defect 8) ---------------------------------------------
def test_record_type_names_are_matched_in_any_case(http: httpx.Client) -> None:
    """Oracle's own Item Fulfilment example posts to `/salesorder/{id}/!transform/itemFulfillment`."""
    created = _post(http, f"{RECORD}/salesorder/1001/!transform/itemfulfillment", {"externalId": "IF-lc"})
    assert created.status_code == 204, created.text
    assert created.headers["location"].endswith("/itemFulfillment/1002")
    assert _record(http, "ITEMFULFILLMENT/1002")["externalId"] == "IF-lc"
    assert _record(http, "SalesOrder/1001")["orderStatus"]["id"] == "F"
    assert _post(http, f"{RECORD}/SALESORDER/1001/!transform/INVOICE", {}).status_code == 204
    listed = _ok(http.get(f"{RECORD}/inventoryitem", headers=BEARER))
    assert listed["count"] == 3
    unknown = http.get(f"{RECORD}/Customer/1", headers=BEARER)
    assert unknown.status_code == 404
    assert "'Customer'" in unknown.json()["o:errorDetails"][0]["detail"]
