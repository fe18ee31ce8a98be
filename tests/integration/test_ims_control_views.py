"""What the IMS simulator's control API shows for the oracle: each order's address, e-mail and
creation date, each kit's members (docs/simulators/ims.md, Control API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from tests.servers import run_app

from stockbridge.simulators.ims import ImsSettings, create_app

START = datetime(2026, 11, 26, 9, 0, 0, 750000, tzinfo=UTC)


class Clock:
    now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    clock = Clock()
    with run_app(create_app(ImsSettings(clock=clock))) as url, httpx.Client(base_url=url) as client:
        yield client


def test_orders_show_address_email_and_creation_to_the_second(http: httpx.Client) -> None:
    http.post("/_control/items", json={"items": [{"itemId": "MUG-1"}]}).raise_for_status()
    address = {"addressee": "Ada", "addr1": "1 St", "city": "London", "zip": "N1 9GU", "country": "gb"}
    order = {"tranId": "SO1", "email": "ada@example.com", "shippingAddress": address,
             "lines": [{"itemId": "MUG-1", "quantity": 1}]}  # fmt: skip
    http.post("/_control/sales_orders", json={"orders": [order]}).raise_for_status()
    http.post("/_control/sales_orders", json={"orders": [{"tranId": "SO2", "lines": order["lines"]}]})
    shown = http.get("/_control/sales_orders").json()["orders"]
    assert shown["SO1"]["shippingAddress"] == {**address, "country": "GB"}
    assert shown["SO1"]["email"] == "ada@example.com"
    assert shown["SO1"]["createdDate"] == "2026-11-26T09:00:00Z"
    assert (shown["SO2"]["shippingAddress"], shown["SO2"]["email"]) == (None, None)


def test_kits_show_their_members_in_order(http: httpx.Client) -> None:
    members = [{"itemId": "TEA-2", "quantity": 1}, {"itemId": "MUG-1", "quantity": 2}]
    items = [
        {"itemId": "MUG-1"},
        {"itemId": "TEA-2"},
        {"itemId": "BOX", "itemType": "Kit", "members": members},
    ]
    http.post("/_control/items", json={"items": items}).raise_for_status()
    state = http.get("/_control/state").json()["items"]
    assert state["BOX"]["members"] == members
    assert "members" not in state["MUG-1"]


def test_adjustments_show_when_each_applied_and_the_on_hand_it_left(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`GET /_control/adjustments`: each adjustment as applied (a replacing upsert too), stamped to the
    microsecond by the simulator's clock, with each line's resulting on hand; `?after=` pages on."""
    ids = http.post("/_control/items", json={"items": [{"itemId": "A"}, {"itemId": "B"}]}).json()["ids"]
    bearer = {"Authorization": "Bearer ims-dev-token"}
    url = "/services/rest/record/v1/inventoryAdjustment/eid:BATCH-1"

    def adjust(*lines: tuple[str, int]) -> None:
        items = [{"item": {"id": ids[sku]}, "location": {"id": "6"}, "adjustQtyBy": q} for sku, q in lines]
        body = {"account": {"id": "1"}, "adjLocation": {"id": "6"}, "inventory": {"items": items}}
        assert http.put(url, json=body, headers=bearer).status_code == 204

    adjust(("A", 5), ("B", 2))
    monkeypatch.setattr(Clock, "now", START.replace(microsecond=751234))
    adjust(("A", 7))  # the same external id: replaces the first
    shown = http.get("/_control/adjustments").json()["adjustments"]
    assert [(a["seq"], a["at"], a["externalId"], a["replaced"]) for a in shown] == [
        (1, "2026-11-26T09:00:00.750000Z", "BATCH-1", False),
        (2, "2026-11-26T09:00:00.751234Z", "BATCH-1", True),
    ]
    assert shown[0]["lines"] == [
        {"itemId": "A", "location": "6", "adjustQtyBy": 5, "onHand": 5},
        {"itemId": "B", "location": "6", "adjustQtyBy": 2, "onHand": 2},
    ]
    assert shown[1]["lines"] == [{"itemId": "A", "location": "6", "adjustQtyBy": 7, "onHand": 7}]
    assert [a["seq"] for a in http.get("/_control/adjustments?after=1").json()["adjustments"]] == [2]
    http.post("/_control/reset").raise_for_status()
    assert http.get("/_control/adjustments").json()["adjustments"] == []
