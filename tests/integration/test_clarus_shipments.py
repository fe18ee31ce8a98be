"""The Clarus simulator's pick, pack and despatch (shipments) over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from tests.clarus_support import ADDRESS, Receiver, clarus_client
from tests.servers import run_app

SECRET = "whsec-shipments"
LINES = [{"line_ref": "1", "sku": "ABC-1", "quantity": 3}, {"line_ref": "2", "sku": "XYZ-9", "quantity": 1}]


@contextmanager
def clarus(**settings: Any) -> Iterator[httpx.Client]:
    with clarus_client(**settings) as client:
        for sku in ("ABC-1", "XYZ-9"):
            assert client.put(f"/api/v1/items/{sku}", json={}).status_code == 201
        yield client


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    with run_app(receiver.app) as url:
        yield f"{url}/hook"


def drain(client: httpx.Client) -> None:
    assert client.post("/_control/drain", params={"timeout": 20}).json()["drained"] is True


def create(client: httpx.Client, reference: str, status: str | None = "released") -> dict[str, Any]:
    body = {
        "reference": reference,
        "warehouse_id": "WH1",
        "ship_method": "NDAY",
        "ship_to": ADDRESS,
        "lines": LINES,
    }
    response = client.post("/api/v1/orders", json=body)
    assert response.status_code == 201, response.text
    if status is not None:
        response = client.post(f"/_control/orders/{reference}/advance", json={"status": status})
        assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def despatch(client: httpx.Client, reference: str, body: Any = None, expect: int = 201) -> dict[str, Any]:
    response = client.post(f"/_control/orders/{reference}/despatch", json=body)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def feed(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/events", params={"warehouse_id": "WH1", **params})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def test_whole_despatch_walks_the_order_through_picking_and_packed() -> None:
    with clarus() as client:
        receipt = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "ABC-1", "quantity": 10}
        assert client.post("/_control/movements", json={"movements": [receipt]}).status_code == 200
        create(client, "SO1")
        shipment = despatch(client, "SO1")  # no body: everything, generated id and tracking number
        assert shipment == {
            "shipment_id": "SHP-000001",
            "reference": "SO1",
            "warehouse_id": "WH1",
            "carrier": "UPS",
            "service": "NDAY",
            "tracking_numbers": shipment["tracking_numbers"],
            "weight_kg": None,
            "lines": [
                {"line_ref": "1", "sku": "ABC-1", "quantity": 3},
                {"line_ref": "2", "sku": "XYZ-9", "quantity": 1},
            ],
            "despatched_at": shipment["despatched_at"],
            "sequence": 6,
        }
        [tracking] = shipment["tracking_numbers"]
        assert re.fullmatch(r"1Z[0-9A-F]{16}", tracking)
        order = client.get("/api/v1/orders/SO1").json()
        assert (order["status"], order["version"], order["shipments"]) == ("despatched", 5, ["SHP-000001"])
        assert order["updated_at"] == shipment["despatched_at"]
        assert [line["quantity_despatched"] for line in order["lines"]] == [3, 1]
        events = feed(client)
        assert [(e["type"], e["data"].get("status")) for e in events] == [
            ("inventory.movement", None),
            ("order.status_changed", "received"),
            ("order.status_changed", "released"),
            ("order.status_changed", "picking"),
            ("order.status_changed", "packed"),
            ("shipment.despatched", None),
            ("order.status_changed", "despatched"),
        ]
        assert [e["data"]["sequence"] for e in events] == list(range(1, 8))
        assert client.get("/api/v1/shipments/SHP-000001").json() == shipment
        missing = client.get("/api/v1/shipments/SHP-000002")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        assert (
            client.get("/api/v1/shipments/SHP-000001", headers={"Authorization": "Bearer no"}).status_code
            == 401
        )
        # Despatch does not move stock in this version.
        assert client.get("/_control/state").json()["warehouses"]["WH1"]["stock"] == {
            "ABC-1": {"available": 10}
        }
        assert client.get("/_control/shipments").json() == {"shipments": {"SHP-000001": shipment}}


def test_several_shipments_complete_an_order() -> None:
    with clarus() as client:
        create(client, "SO1", "packed")
        first = despatch(
            client,
            "SO1",
            {
                "shipment_id": "PKG-1",
                "lines": [{"line_ref": "1", "quantity": 2}],
                "carrier": "DPD",
                "service": "DPD-NEXT",
                "tracking_numbers": ["15501234567890", "15501234567891"],
                "weight_kg": 2.5,
            },
        )
        assert (first["shipment_id"], first["carrier"], first["service"], first["weight_kg"]) == (
            "PKG-1",
            "DPD",
            "DPD-NEXT",
            2.5,
        )
        assert first["tracking_numbers"] == ["15501234567890", "15501234567891"]
        order = client.get("/api/v1/orders/SO1").json()
        assert (order["status"], order["version"]) == ("partially_despatched", 3)
        assert [line["quantity_despatched"] for line in order["lines"]] == [2, 0]
        second = despatch(client, "SO1", {"lines": [{"line_ref": "2", "quantity": 1}]})
        assert second["shipment_id"] == "SHP-000001"
        order = client.get("/api/v1/orders/SO1").json()
        assert (order["status"], order["version"]) == ("partially_despatched", 4)
        third = despatch(client, "SO1", {})  # the rest: one unit of line 1
        assert third["lines"] == [{"line_ref": "1", "sku": "ABC-1", "quantity": 1}]
        order = client.get("/api/v1/orders/SO1").json()
        assert (order["status"], order["version"]) == ("despatched", 5)
        assert order["shipments"] == ["PKG-1", "SHP-000001", "SHP-000002"]
        assert [line["quantity_despatched"] for line in order["lines"]] == [3, 1]
        types = [(e["type"], e["data"].get("status")) for e in feed(client, after_sequence=2)]
        assert types == [
            ("shipment.despatched", None),
            ("order.status_changed", "partially_despatched"),
            ("shipment.despatched", None),
            ("order.updated", "partially_despatched"),
            ("shipment.despatched", None),
            ("order.status_changed", "despatched"),
        ]
        more = despatch(client, "SO1", {}, expect=409)
        assert (more["error"]["code"], more["order"]["status"]) == ("invalid_transition", "despatched")
        # Paging and filters of the real API.
        create(client, "SO2")
        despatch(client, "SO2", {"shipment_id": "OTHER"})
        seen, cursor = [], None
        while True:
            page = client.get(
                "/api/v1/shipments", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
            assert page.status_code == 200, page.text
            seen += [s["shipment_id"] for s in page.json()["data"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert seen == ["PKG-1", "SHP-000001", "SHP-000002", "OTHER"]
        by_reference = client.get("/api/v1/shipments", params={"reference": "SO2"}).json()["data"]
        assert [s["shipment_id"] for s in by_reference] == ["OTHER"]
        after = client.get("/api/v1/shipments", params={"updated_after": third["despatched_at"]}).json()[
            "data"
        ]
        assert [s["shipment_id"] for s in after] == ["OTHER"]
        for params, field in (
            ({"updated_after": "soon"}, "updated_after"),
            ({"cursor": "x"}, "cursor"),
            ({"limit": 0}, "limit"),
        ):
            bad = client.get("/api/v1/shipments", params=params)
            assert (bad.status_code, bad.json()["error"]["field"]) == (400, field)
        assert sorted(client.get("/_control/shipments").json()["shipments"]) == sorted(seen)


def test_refused_despatches_change_nothing() -> None:
    with clarus() as client:
        create(client, "SO1")
        despatch(client, "SO1", {"shipment_id": "PKG-1", "lines": [{"line_ref": "1", "quantity": 2}]})
        before, events_before = client.get("/api/v1/orders/SO1").json(), feed(client)
        over = despatch(client, "SO1", {"lines": [{"line_ref": "1", "quantity": 2}]}, expect=422)
        assert (over["error"]["code"], over["error"]["field"]) == ("over_despatch", "lines[0].quantity")
        unknown = despatch(client, "SO1", {"lines": [{"line_ref": "7", "quantity": 1}]}, expect=422)
        assert (unknown["error"]["code"], unknown["error"]["field"]) == (
            "unknown_line_ref",
            "lines[0].line_ref",
        )
        for body, field in (
            ({"weight_kg": -1}, "weight_kg"),
            ({"tracking_numbers": []}, "tracking_numbers"),
            ({"box": 1}, "box"),
        ):
            refused = despatch(client, "SO1", body, expect=422)
            assert (refused["error"]["code"], refused["error"]["field"]) == ("invalid_field", field)
        # A taken shipment_id is answered with the existing shipment, whatever the rest of the body says.
        create(client, "SO2")
        duplicate = despatch(client, "SO2", {"shipment_id": "PKG-1", "carrier": ""}, expect=409)
        assert (duplicate["error"]["code"], duplicate["error"]["field"]) == (
            "duplicate_shipment",
            "shipment_id",
        )
        assert (duplicate["shipment"]["shipment_id"], duplicate["shipment"]["reference"]) == ("PKG-1", "SO1")
        not_json = client.post("/_control/orders/SO1/despatch", content=b"{")
        assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
        assert despatch(client, "SO9", {}, expect=404)["error"]["code"] == "not_found"
        assert client.get("/api/v1/orders/SO1").json() == before
        assert feed(client)[: len(events_before)] == events_before
        assert [e["data"]["reference"] for e in feed(client)[len(events_before) :]] == [
            "SO2",
            "SO2",
        ]  # its create
        assert list(client.get("/_control/shipments").json()["shipments"]) == ["PKG-1"]
        # Statuses that cannot despatch.
        assert client.post("/api/v1/orders/SO2/cancel").json()["status"] == "cancelled"
        create(client, "SO3", None)
        create(client, "SO4", "on_hold")
        for reference, status in (("SO2", "cancelled"), ("SO3", "received"), ("SO4", "on_hold")):
            refused = despatch(client, reference, {}, expect=409)
            assert (refused["error"]["code"], refused["order"]["status"]) == ("invalid_transition", status)
        # A locked order still refuses amendments and cancels once part of it has left.
        locked = client.post("/api/v1/orders/SO1/cancel")
        assert (locked.status_code, locked.json()["error"]["code"]) == (409, "order_locked")
        assert client.post("/_control/orders/SO1/advance", json={"status": "packed"}).status_code == 409


def test_shipment_webhooks_are_signed_and_follow_subscription_types() -> None:
    shipments_only, orders_only = Receiver(), Receiver()
    with (
        receiving(shipments_only) as shipments_url,
        receiving(orders_only) as orders_url,
        clarus(webhook_url=orders_url, webhook_secret=SECRET) as client,
    ):
        client.post(
            "/api/v1/webhooks",
            json={"url": shipments_url, "secret": SECRET, "events": ["shipment.despatched"]},
        )
        movement = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "ABC-1", "quantity": 5}
        client.post("/_control/movements", json={"movements": [movement]})
        create(client, "SO1")
        shipment = despatch(client, "SO1", {"lines": [{"line_ref": "2", "quantity": 1}], "weight_kg": 0.4})
        drain(client)
        [event] = shipments_only.events()
        assert event == {
            "id": f"evt_WH1_{shipment['sequence']:012d}",
            "type": "shipment.despatched",
            "created_at": shipment["despatched_at"],
            "data": {
                "warehouse_id": "WH1",
                "sequence": shipment["sequence"],
                "occurred_at": shipment["despatched_at"],
                "shipment_id": "SHP-000001",
                "reference": "SO1",
                "carrier": "UPS",
                "service": "NDAY",
                "tracking_numbers": shipment["tracking_numbers"],
                "weight_kg": 0.4,
                "lines": [{"line_ref": "2", "sku": "XYZ-9", "quantity": 1}],
            },
        }
        [(headers, raw)] = shipments_only.accepted
        signed = headers["x-clarus-timestamp"].encode() + b"." + raw
        expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["x-clarus-signature"] == f"sha256={expected}"
        assert (headers["x-clarus-event-type"], headers["x-clarus-event-id"]) == (
            "shipment.despatched",
            event["id"],
        )
        assert [e["type"] for e in orders_only.events()] == [
            "inventory.movement"
        ]  # wh_1 defaults to movements
        only = feed(client, types="shipment.despatched")
        assert only == [event]


def test_duplicates_fault_delivers_the_same_shipment_event_twice() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(seed=7) as client:
        client.post(
            "/api/v1/webhooks", json={"url": hook_url, "secret": SECRET, "events": ["shipment.despatched"]}
        )
        assert client.put("/_control/faults", json={"duplicate_rate": 1.0}).status_code == 200
        create(client, "SO1")
        despatch(client, "SO1", {"shipment_id": "PKG-1"})
        drain(client)
        assert len(receiver.accepted) == 2
        (first_headers, first_body), (second_headers, second_body) = receiver.accepted
        assert first_body == second_body
        assert first_headers["x-clarus-event-id"] == second_headers["x-clarus-event-id"]
        assert first_headers["x-clarus-signature"] == second_headers["x-clarus-signature"]
        assert json.loads(first_body)["data"]["shipment_id"] == "PKG-1"
        counters = client.get("/_control/deliveries").json()
        assert (counters["delivered"], counters["duplicates_sent"]) == (1, 1)


def test_reset_clears_shipments_and_restarts_generated_ids() -> None:
    with clarus() as client:
        create(client, "SO1")
        despatch(client, "SO1", {})
        assert client.post("/_control/reset").status_code == 200
        assert client.get("/_control/shipments").json() == {"shipments": {}}
        assert client.get("/api/v1/shipments").json() == {"data": [], "next_cursor": None}
        for sku in ("ABC-1", "XYZ-9"):
            client.put(f"/api/v1/items/{sku}", json={})
        create(client, "SO1")
        assert despatch(client, "SO1", {})["shipment_id"] == "SHP-000001"
