"""The Magento simulator over HTTP: paths and scopes, auth, search echo, the host rate limit, faults,
shipment rules and the control API (what docs/simulators/magento.md promises)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.servers import run_app

from stockbridge.simulators.magento import MagentoSettings, create_app

TOKEN = "sim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_app(create_app(MagentoSettings(tokens=[TOKEN], store_codes=["en"]))) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        client.post("/_control/reset").raise_for_status()
        yield client


@pytest.mark.parametrize("prefix", ["/rest/V1", "/rest/all/V1", "/rest/default/V1", "/rest/en/V1"])
def test_every_scope_serves_the_same_search(http: httpx.Client, prefix: str) -> None:
    http.post("/_control/orders", json={"items": [{"sku": "A", "qty": 1}]}).raise_for_status()
    answer = http.get(f"{prefix}/orders", params={"searchCriteria[pageSize]": "5"}, headers=AUTH)
    assert answer.status_code == 200
    body = answer.json()
    assert body["total_count"] == 1
    assert body["search_criteria"] == {"filter_groups": [], "page_size": 5}


def test_an_unknown_store_code_or_path_is_no_route(http: httpx.Client) -> None:
    for path in ("/rest/fr/V1/orders", "/rest/V1/nothing-here"):
        answer = http.get(path, headers=AUTH)
        assert answer.status_code == 404
        assert answer.json() == {"message": "Request does not match any route."}


def test_a_wrong_token_is_refused_naming_the_resource(http: httpx.Client) -> None:
    answer = http.post("/rest/V1/orders/1/cancel", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json() == {
        "message": "The consumer isn't authorized to access %resources.",
        "parameters": {"resources": "Magento_Sales::cancel"},
    }
    assert http.get("/_control/calls").json()["unauthorized"] == 1


def test_the_host_rate_limit_answers_429_with_retry_after(http: httpx.Client) -> None:
    http.post("/_control/limits", json={"calls_per_second": 1}).raise_for_status()
    first = http.get("/rest/V1/orders", headers=AUTH)
    second = http.get("/rest/V1/orders", headers=AUTH)
    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second.headers["retry-after"]) >= 1
    assert http.get("/_control/calls").json()["throttled_429"] == 1


def test_an_outage_and_a_lost_answer(http: httpx.Client) -> None:
    placed = http.post("/_control/orders", json={"items": [{"sku": "A", "qty": 2}]}).json()
    http.post("/_control/faults", json={"outage": True}).raise_for_status()
    assert http.get("/rest/V1/orders", headers=AUTH).status_code == 503
    http.post("/_control/faults", json={"outage": False, "fail_after_commit_rate": 1.0}).raise_for_status()
    answer = http.post(f"/rest/V1/orders/{placed['entity_id']}/hold", headers=AUTH)
    assert answer.status_code == 502
    assert http.get(f"/_control/orders/{placed['entity_id']}").json()["state"] == "holded"  # applied


def test_a_held_order_cannot_ship_and_nothing_to_ship_is_refused(http: httpx.Client) -> None:
    placed = http.post("/_control/orders", json={"items": [{"sku": "A", "qty": 1}]}).json()
    order = placed["entity_id"]
    http.post(f"/rest/V1/orders/{order}/hold", headers=AUTH).raise_for_status()
    refused = http.post(f"/rest/V1/order/{order}/ship", json={}, headers=AUTH)
    assert refused.status_code == 400
    assert refused.json()["message"].endswith("The order does not allow a shipment to be created.")
    http.post(f"/rest/V1/orders/{order}/unhold", headers=AUTH).raise_for_status()
    wrong_item = http.post(
        f"/rest/V1/order/{order}/ship", json={"items": [{"order_item_id": 999, "qty": 1}]}, headers=AUTH
    )
    assert wrong_item.json()["message"].endswith("You can't create a shipment without products.")
    everything = http.post(f"/rest/V1/order/{order}/ship", json={"notify": True}, headers=AUTH)
    assert everything.status_code == 200
    assert isinstance(everything.json(), str)  # the shipment id, as Magento's JSON carries it
    assert http.get(f"/_control/orders/{order}").json()["state"] == "complete"
    assert http.post(f"/rest/V1/orders/{order}/cancel", headers=AUTH).json() is False


def test_a_configurable_child_listed_to_ship_is_a_dummy(http: httpx.Client) -> None:
    placed = http.post(
        "/_control/orders", json={"items": [{"configurable": "TEE", "sku": "TEE-S", "qty": 1}]}
    ).json()
    child = next(i for i in placed["items"] if i["product_type"] == "simple")
    assert child["parent_item"]["product_type"] == "configurable"
    refused = http.post(
        f"/rest/V1/order/{placed['entity_id']}/ship",
        json={"items": [{"order_item_id": child["item_id"], "qty": 1}]},
        headers=AUTH,
    )
    assert refused.status_code == 400  # only the parent ships a configurable
    assert refused.json()["message"].endswith("without products.")


def test_reset_clears_orders_source_items_and_counts(http: httpx.Client) -> None:
    http.post("/_control/orders", json={"items": [{"sku": "A", "qty": 1}]}).raise_for_status()
    http.post("/_control/source-items", json={"items": [{"sku": "A", "quantity": 3}]}).raise_for_status()
    http.get("/rest/V1/orders", headers=AUTH)
    http.post("/_control/reset").raise_for_status()
    assert http.get("/_control/orders").json() == {"orders": []}
    assert http.get("/_control/source-items").json()["items"] == []
    assert http.get("/_control/calls").json()["calls"] == 0
