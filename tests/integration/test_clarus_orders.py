"""The Clarus simulator's product master and orders over real HTTP (uvicorn on a free port, httpx)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from tests.clarus_support import ADDRESS, Receiver, clarus_client
from tests.servers import run_app

SECRET = "whsec-orders"


clarus = clarus_client


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    with run_app(receiver.app) as url:
        yield f"{url}/hook"


def drain(client: httpx.Client) -> None:
    assert client.post("/_control/drain", params={"timeout": 20}).json()["drained"] is True


def put_items(client: httpx.Client, *skus: str, active: bool = True) -> None:
    for sku in skus:
        response = client.put(f"/api/v1/items/{sku}", json={"description": f"Item {sku}", "active": active})
        assert response.status_code in (200, 201), response.text


def order(reference: str = "SO1001", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": reference,
        "warehouse_id": "WH1",
        "ship_method": "NDAY",
        "ship_to": dict(ADDRESS),
        "lines": [{"line_ref": "1", "sku": "ABC-1", "quantity": 2}],
    }
    body.update(overrides)
    return body


def create(client: httpx.Client, body: dict[str, Any], expect: int = 201) -> dict[str, Any]:
    response = client.post("/api/v1/orders", json=body)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def advance(client: httpx.Client, reference: str, status: str, expect: int = 200) -> dict[str, Any]:
    response = client.post(f"/_control/orders/{reference}/advance", json={"status": status})
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def test_item_upsert_and_sku_rules() -> None:
    with clarus() as client:
        created = client.put("/api/v1/items/0012", json={"description": "Widget", "barcode": "5012345678900"})
        assert created.status_code == 201
        item = created.json()
        assert item["sku"] == "0012"
        assert (item["description"], item["barcode"], item["active"]) == ("Widget", "5012345678900", True)
        assert item["created_at"] == item["updated_at"]
        same = client.put("/api/v1/items/0012", json={"description": "Widget", "barcode": "5012345678900"})
        assert (same.status_code, same.json()) == (200, item)  # an identical PUT changes nothing
        updated = client.put("/api/v1/items/0012", json={"description": "Widget v2", "active": False})
        assert updated.status_code == 200
        assert (updated.json()["barcode"], updated.json()["active"]) == (None, False)  # PUT replaces
        assert updated.json()["created_at"] == item["created_at"]
        assert client.put("/api/v1/items/12", json={}).status_code == 201  # leading zeros are significant
        assert client.put("/api/v1/items/abc-1", json={}).status_code == 201
        assert client.put("/api/v1/items/ABC-1", json={}).status_code == 201  # case sensitive
        for bad in ("has space", "a.b", "x" * 51, "caf\u00e9"):
            response = client.put(f"/api/v1/items/{bad}", json={})
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "invalid_sku"
            assert response.json()["error"]["field"] == "sku"
        wrong = client.put("/api/v1/items/ok", json={"active": "yes"})
        assert (wrong.status_code, wrong.json()["error"]["field"]) == (422, "active")
        assert client.get("/api/v1/items/0012").json()["description"] == "Widget v2"
        missing = client.get("/api/v1/items/0013")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        assert client.get("/api/v1/items/0012", headers={"Authorization": "Bearer no"}).status_code == 401
        skus, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/items", params=params).json()
            skus += [i["sku"] for i in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert skus == ["0012", "12", "ABC-1", "abc-1"]
        assert sorted(client.get("/_control/items").json()["items"]) == skus
        bad_cursor = client.get("/api/v1/items", params={"cursor": "nope"})
        assert (bad_cursor.status_code, bad_cursor.json()["error"]["code"]) == (400, "invalid_cursor")


def test_create_is_idempotent_by_reference() -> None:
    with clarus() as client:
        put_items(client, "ABC-1", "XYZ-9")
        created = create(client, order(notes="leave with neighbour"))
        assert created["status"] == "received"
        assert (created["version"], created["cancelled_at"], created["notes"]) == (
            1,
            None,
            "leave with neighbour",
        )
        assert created["lines"] == [
            {"line_ref": "1", "sku": "ABC-1", "quantity": 2, "quantity_despatched": 0}
        ]
        assert created["ship_to"] == {**ADDRESS, "line2": None, "region": None, "phone": None, "email": None}
        assert client.get("/api/v1/orders/SO1001").json() == created
        # A retry (even with a different body) never makes a second order; it answers the existing one.
        other_lines = [{"line_ref": "1", "sku": "XYZ-9", "quantity": 5}]
        again = create(client, order(lines=other_lines), expect=409)
        assert again["error"]["code"] == "duplicate_reference"
        assert again["order"] == created
        assert list(client.get("/_control/orders").json()["orders"]) == ["SO1001"]
        missing = client.get("/api/v1/orders/SO9")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"lines": [{"line_ref": "1", "sku": "NOPE-1", "quantity": 1}]}, "unknown_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "OLD-1", "quantity": 1}]}, "inactive_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "abc 1", "quantity": 1}]}, "invalid_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "abc-1", "quantity": 1}]}, "unknown_sku", "lines[0].sku"),
        ({"lines": [{"line_ref": "1", "sku": "ABC-1", "quantity": 0}]}, "invalid_field", "lines[0].quantity"),
        (
            {"lines": [{"line_ref": "1", "sku": "ABC-1", "quantity": 1}] * 2},
            "duplicate_line_ref",
            "lines[1].line_ref",
        ),
        ({"lines": []}, "invalid_field", "lines"),
        ({"ship_method": "FASTEST"}, "unknown_ship_method", "ship_method"),
        ({"ship_method": "nday"}, "unknown_ship_method", "ship_method"),
        ({"warehouse_id": "WH9"}, "unknown_warehouse", "warehouse_id"),
        ({"reference": ""}, "invalid_field", "reference"),
        ({"reference": "R" * 65}, "invalid_field", "reference"),
        ({"ship_to": {**ADDRESS, "postcode": " "}}, "invalid_address", "ship_to.postcode"),
        ({"ship_to": {**ADDRESS, "country": "UK"}}, "invalid_address", "ship_to.country"),
        ({"ship_to": {k: v for k, v in ADDRESS.items() if k != "city"}}, "invalid_address", "ship_to.city"),
        ({"ship_to": "London"}, "invalid_address", "ship_to"),
        ({"colour": "red"}, "invalid_field", "colour"),
    ],
)
def test_invalid_create_is_refused_and_creates_nothing(change: dict[str, Any], code: str, field: str) -> None:
    with clarus() as client:
        put_items(client, "ABC-1")
        put_items(client, "OLD-1", active=False)
        refused = create(client, order(**change), expect=422)
        assert (refused["error"]["code"], refused["error"]["field"]) == (code, field)
        assert client.get("/_control/orders").json() == {"orders": {}}
        assert client.get("/api/v1/events", params={"warehouse_id": "WH1"}).json()["data"] == []


def test_amend_before_picking_and_locked_after() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus() as client:
        client.post("/api/v1/webhooks", json={"url": hook_url, "secret": SECRET, "events": ["order.updated"]})
        put_items(client, "ABC-1", "XYZ-9")
        create(client, order())
        advance(client, "SO1001", "allocated")
        lines = [
            {"line_ref": "1", "sku": "ABC-1", "quantity": 3},
            {"line_ref": "2", "sku": "XYZ-9", "quantity": 1},
        ]
        patch = {"lines": lines, "ship_method": "EXP", "notes": "gift"}
        amended = client.patch("/api/v1/orders/SO1001", json=patch)
        assert amended.status_code == 200, amended.text
        body = amended.json()
        assert (body["version"], body["status"], body["ship_method"], body["notes"]) == (
            3,
            "allocated",
            "EXP",
            "gift",
        )
        assert [(li["sku"], li["quantity"]) for li in body["lines"]] == [("ABC-1", 3), ("XYZ-9", 1)]
        # A retried PATCH changes nothing: same version, no second event.
        retried = client.patch("/api/v1/orders/SO1001", json=patch)
        assert (retried.status_code, retried.json()) == (200, body)
        invalid = client.patch("/api/v1/orders/SO1001", json={"ship_method": "TELEPORT"})
        assert (invalid.status_code, invalid.json()["error"]["code"]) == (422, "unknown_ship_method")
        fixed = client.patch("/api/v1/orders/SO1001", json={"reference": "SO2"})
        assert (fixed.status_code, fixed.json()["error"]["field"]) == (422, "reference")
        advance(client, "SO1001", "picking")
        locked = client.patch("/api/v1/orders/SO1001", json={"notes": "too late"})
        assert locked.status_code == 409
        assert locked.json()["error"] == {"code": "order_locked", "message": "picking has started"}
        assert (locked.json()["order"]["status"], locked.json()["order"]["notes"]) == ("picking", "gift")
        drain(client)
        [event] = receiver.events()
        assert event["type"] == "order.updated"
        assert event["data"]["reference"] == "SO1001"
        assert (event["data"]["status"], event["data"]["previous_status"]) == ("allocated", "allocated")
        assert event["data"]["order_version"] == 3
        assert receiver.accepted[0][0]["x-clarus-event-type"] == "order.updated"


def test_cancel_is_idempotent_and_refused_once_picking() -> None:
    with clarus() as client:
        put_items(client, "ABC-1")
        create(client, order("SO1"))
        advance(client, "SO1", "on_hold")
        cancelled = client.post("/api/v1/orders/SO1/cancel")
        assert cancelled.status_code == 200
        body = cancelled.json()
        assert (body["status"], body["version"]) == ("cancelled", 3)
        assert body["cancelled_at"] == body["updated_at"]
        again = client.post("/api/v1/orders/SO1/cancel")
        assert (again.status_code, again.json()) == (200, body)
        refused = client.patch("/api/v1/orders/SO1", json={"notes": "x"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "order_cancelled")
        assert refused.json()["order"] == body
        assert advance(client, "SO1", "released", expect=409)["error"]["code"] == "order_cancelled"
        create(client, order("SO2"))
        advance(client, "SO2", "packed")
        locked = client.post("/api/v1/orders/SO2/cancel")
        assert (locked.status_code, locked.json()["error"]["code"]) == (409, "order_locked")
        assert locked.json()["order"]["status"] == "packed"
        assert client.post("/api/v1/orders/SO3/cancel").status_code == 404


def test_advance_only_moves_forward() -> None:
    with clarus() as client:
        put_items(client, "ABC-1")
        create(client, order("SO1"))
        assert advance(client, "SO1", "allocated")["version"] == 2
        assert advance(client, "SO1", "released", expect=409)["error"]["code"] == "invalid_transition"
        assert advance(client, "SO1", "allocated")["version"] == 2  # already there: unchanged
        assert advance(client, "SO1", "on_hold")["status"] == "on_hold"
        assert advance(client, "SO1", "released", expect=409)["error"]["code"] == "invalid_transition"
        assert advance(client, "SO1", "picking")["status"] == "picking"
        assert advance(client, "SO1", "on_hold", expect=409)["error"]["code"] == "invalid_transition"
        assert advance(client, "SO1", "despatched", expect=422)["error"]["field"] == "status"
        assert advance(client, "SO9", "released", expect=404)["error"]["code"] == "not_found"


def test_status_webhooks_follow_subscription_event_types() -> None:
    inventory_only, orders_only, everything = Receiver(), Receiver(), Receiver()
    with (
        receiving(inventory_only) as inventory_url,
        receiving(orders_only) as orders_url,
        receiving(everything) as all_url,
        clarus(webhook_url=inventory_url, webhook_secret=SECRET) as client,
    ):
        client.post(
            "/api/v1/webhooks", json={"url": orders_url, "secret": SECRET, "events": ["order.status_changed"]}
        )
        all_types = ["inventory.movement", "order.status_changed", "order.updated"]
        client.post("/api/v1/webhooks", json={"url": all_url, "secret": SECRET, "events": all_types})
        put_items(client, "ABC-1")
        movement = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "ABC-1", "quantity": 5}
        assert client.post("/_control/movements", json={"movements": [movement]}).status_code == 200
        create(client, order("SO1"))
        advance(client, "SO1", "released")
        client.patch("/api/v1/orders/SO1", json={"notes": "ring twice"})
        client.post("/api/v1/orders/SO1/cancel")
        drain(client)

        assert [e["type"] for e in inventory_only.events()] == ["inventory.movement"]
        transitions = [(e["data"]["previous_status"], e["data"]["status"]) for e in orders_only.events()]
        assert transitions == [(None, "received"), ("received", "released"), ("released", "cancelled")]
        assert [e["data"]["order_version"] for e in orders_only.events()] == [1, 2, 4]
        feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}).json()["data"]
        assert everything.events() == feed
        assert [e["type"] for e in feed] == [
            "inventory.movement",
            "order.status_changed",
            "order.status_changed",
            "order.updated",
            "order.status_changed",
        ]
        assert [e["data"]["sequence"] for e in feed] == [1, 2, 3, 4, 5]  # one sequence per warehouse
        first = orders_only.events()[0]
        assert first == {
            "id": "evt_WH1_000000000002",
            "type": "order.status_changed",
            "created_at": first["data"]["occurred_at"],
            "data": {
                "warehouse_id": "WH1",
                "sequence": 2,
                "occurred_at": first["data"]["occurred_at"],
                "reference": "SO1",
                "status": "received",
                "previous_status": None,
                "order_version": 1,
            },
        }
        for headers, raw in orders_only.accepted:
            signed = headers["x-clarus-timestamp"].encode() + b"." + raw
            expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert headers["x-clarus-signature"] == f"sha256={expected}"
            assert headers["x-clarus-event-type"] == "order.status_changed"
        only_orders = client.get(
            "/api/v1/events", params={"warehouse_id": "WH1", "types": "order.status_changed", "limit": 2}
        ).json()
        assert [e["data"]["sequence"] for e in only_orders["data"]] == [2, 3]
        # Skipped events of other types advance the cursor too.
        assert (only_orders["has_more"], only_orders["next_after_sequence"]) == (True, 4)
        rest = client.get(
            "/api/v1/events",
            params={"warehouse_id": "WH1", "types": "order.status_changed", "after_sequence": 4},
        ).json()
        assert ([e["data"]["sequence"] for e in rest["data"]], rest["has_more"]) == ([5], False)
        bad = client.get("/api/v1/events", params={"warehouse_id": "WH1", "types": "order.created"})
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "types")


def test_create_timeout_fault_applies_the_order_and_the_retry_gets_409() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(webhook_url=hook_url, webhook_secret=SECRET) as client:
        client.post(
            "/api/v1/webhooks", json={"url": hook_url, "secret": SECRET, "events": ["order.status_changed"]}
        )
        put_items(client, "ABC-1")
        faults = client.put("/_control/faults", json={"create_timeout_rate": 1.0, "timeout_delay_s": 120})
        assert (faults.json()["create_timeout_rate"], faults.json()["timeout_delay_s"]) == (1.0, 120.0)
        with pytest.raises(httpx.ReadTimeout):
            client.post("/api/v1/orders", json=order(), timeout=1.0)
        retried = create(client, order(), expect=409)
        assert retried["error"]["code"] == "duplicate_reference"
        assert (retried["order"]["reference"], retried["order"]["version"]) == ("SO1001", 1)
        assert list(client.get("/_control/orders").json()["orders"]) == ["SO1001"]
        drain(client)
        assert [(e["type"], e["data"]["reference"]) for e in receiver.events()] == [
            ("order.status_changed", "SO1001")
        ]
        client.put("/_control/faults", json={"create_timeout_rate": 0.0})
        assert create(client, order("SO1002"))["reference"] == "SO1002"


def test_orders_page_by_updated_at_with_filters() -> None:
    with clarus() as client:
        put_items(client, "ABC-1")
        references = [f"SO{i:03d}" for i in range(12)]
        created = [create(client, order(r)) for r in references]
        for r in references[:4]:
            advance(client, r, "released")

        def pages(**params: Any) -> list[str]:
            seen, cursor = [], None
            while True:
                query = {"limit": 5, **params, **({"cursor": cursor} if cursor else {})}
                response = client.get("/api/v1/orders", params=query)
                assert response.status_code == 200, response.text
                page = response.json()
                assert len(page["data"]) <= 5
                seen += [o["reference"] for o in page["data"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen

        assert pages() == references[4:] + references[:4]  # by updated_at: changed orders move to the end
        assert pages(status="released") == references[:4]
        assert pages(status="received", warehouse_id="WH1") == references[4:]
        assert pages(updated_after=created[-1]["updated_at"]) == references[:4]
        assert pages(updated_after=created[5]["updated_at"], status="received") == references[6:]
        assert pages(warehouse_id="WH2") == []
        for bad, field in (({"status": "lost"}, "status"), ({"updated_after": "yesterday"}, "updated_after")):
            response = client.get("/api/v1/orders", params=bad)
            assert (response.status_code, response.json()["error"]["field"]) == (400, field)
        assert (
            client.get("/api/v1/orders", params={"cursor": "x"}).json()["error"]["code"] == "invalid_cursor"
        )


def test_ship_methods_control_and_reset_clears_orders_and_items() -> None:
    with clarus() as client:
        assert client.get("/api/v1/ship_methods").json() == {
            "data": [{"code": c} for c in ("STD", "NDAY", "EXP", "INTL")]
        }
        assert client.put("/_control/ship_methods", json={"codes": ["DPD-24", "RM48"]}).json() == {
            "codes": ["DPD-24", "RM48"]
        }
        bad = client.put("/_control/ship_methods", json={"codes": []})
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_setting")
        put_items(client, "ABC-1")
        refused = create(client, order(), expect=422)
        assert refused["error"]["code"] == "unknown_ship_method"
        create(client, order(ship_method="RM48"))
        assert client.post("/_control/reset").status_code == 200
        assert client.get("/_control/orders").json() == {"orders": {}}
        assert client.get("/_control/items").json() == {"items": {}}
        assert client.get("/_control/ship_methods").json() == {"codes": ["DPD-24", "RM48"]}  # a setting
        client.post("/_control/reset", json={"ship_methods": ["STD"]})
        assert client.get("/api/v1/ship_methods").json() == {"data": [{"code": "STD"}]}
