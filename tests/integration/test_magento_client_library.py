"""A real third-party Magento 2 client, PyPI's `pymagento` (Bixoto), against the Magento simulator
with nothing changed but its base URL: it authenticates with the integration token, searches orders
with searchCriteria (paging by its own rules), ships, holds, and reads and saves source items, under
each of the three URL scopes (decision 0031)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from magento import Magento
from magento.exceptions import MagentoException
from magento.queries import make_search_query
from tests.servers import run_app

from stockbridge.simulators.magento import MagentoSettings, create_app

TOKEN = "witness-integration-token"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = MagentoSettings(tokens=[TOKEN], store_codes=["en"], sources=["default", "wh-1"])
    with run_app(create_app(settings)) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.post("/_control/reset").raise_for_status()
        yield client


@pytest.mark.parametrize("scope", ["all", "default", "en"])
def test_the_library_searches_orders_with_search_criteria(http: httpx.Client, scope: str) -> None:
    for n in range(5):
        status = "pending" if n == 2 else "processing"
        http.post("/_control/orders", json={"items": [{"sku": f"W-{n}", "qty": 1}], "status": status})
    api = Magento(token=TOKEN, base_url=str(http.base_url), scope=scope, batch_page_size=2)

    everything = list(api.get_orders())
    processing = list(api.get_orders(status="processing"))
    newest_first = list(
        api.get_orders(query=make_search_query([], sort_orders=[("entity_id", "DESC")]), limit=3)
    )

    far = http.get("/_control/orders").json()["orders"]
    assert [o["increment_id"] for o in everything] == [o["increment_id"] for o in far]
    assert [o["increment_id"] for o in processing] == [
        o["increment_id"] for o in far if o["status"] == "processing"
    ]
    assert [o["entity_id"] for o in newest_first] == sorted((o["entity_id"] for o in far), reverse=True)[:3]
    assert api.get_total_orders_count() == len(far)
    assert api.get_order_by_increment_id(far[3]["increment_id"])["items"][0]["sku"] == "W-3"
    calls = http.get("/_control/calls").json()["calls_by_route"]
    assert calls["GET /V1/orders"] >= 3  # it paged (2 a page), through the scope's path


def test_the_library_is_refused_a_wrong_token(http: httpx.Client) -> None:
    api = Magento(token="not-the-token", base_url=str(http.base_url))
    with pytest.raises(MagentoException) as refused:
        list(api.get_orders())
    assert str(refused.value) == "The consumer isn't authorized to access Magento_Sales::actions_view."
    assert refused.value.response is not None
    assert refused.value.response.status_code == 401


def test_the_library_reads_and_saves_source_items(http: httpx.Client) -> None:
    api = Magento(token=TOKEN, base_url=str(http.base_url))
    api.save_source_items(
        [
            {"sku": "S-1", "source_code": "wh-1", "quantity": 5, "status": 1},
            {"sku": "S-2", "source_code": "wh-1", "quantity": 0, "status": 0},
            {"sku": "S-1", "source_code": "default", "quantity": 2, "status": 1},
        ]
    )
    at_wh1 = {i["sku"]: i["quantity"] for i in api.get_source_items(source_code="wh-1")}
    s1 = {i["source_code"]: i["quantity"] for i in api.get_source_items(sku="S-1")}
    some = {i["sku"] for i in api.get_source_items(skus=["S-2", "NOPE"])}
    assert at_wh1 == {"S-1": 5, "S-2": 0}
    assert s1 == {"wh-1": 5, "default": 2}
    assert some == {"S-2"}


def test_the_library_ships_holds_and_reads_shipments(http: httpx.Client) -> None:
    placed = http.post(
        "/_control/orders",
        json={
            "items": [
                {"bundle": "KIT", "qty": 1, "components": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}
            ]
        },
    ).json()
    child = next(i for i in placed["items"] if i["sku"] == "A")
    api = Magento(token=TOKEN, base_url=str(http.base_url))
    shipment_id = api.ship_order(
        placed["entity_id"],
        {
            "items": [{"order_item_id": child["item_id"], "qty": 1}],
            "tracks": [{"track_number": "TR-9", "title": "DHL", "carrier_code": "dhl"}],
        },
    )
    shipments = list(api.get_order_shipments(placed["entity_id"]))
    assert [str(s["entity_id"]) for s in shipments] == [shipment_id]
    assert shipments[0]["tracks"][0]["track_number"] == "TR-9"
    assert api.hold_order(placed["entity_id"]) is True
    assert api.get_order(placed["entity_id"])["state"] == "holded"
    assert api.unhold_order(placed["entity_id"]) is True
    with pytest.raises(MagentoException) as refused:
        api.ship_order(placed["entity_id"], {"items": [{"order_item_id": child["item_id"], "qty": 5}]})
    assert "unshipped quantity for the product A" in str(refused.value)
    assert api.get_order(99999, none_on_404=True) is None
