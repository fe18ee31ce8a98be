"""The Shopify simulator's orders over real HTTP: stock commitments, catch-up queries, fulfilments, edits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.shopify_sim_support import StepClock, fresh, gql, level, place_order, seed, simulator

from stockbridge.simulators.shopify import ShopifySettings

CLOCK = StepClock()

ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id name email displayFinancialStatus displayFulfillmentStatus createdAt updatedAt cancelledAt
    lineItems(first: 50) { nodes { id sku quantity currentQuantity variant { id } } }
    shippingLines(first: 5) { nodes { title code } }
    shippingAddress { name address1 city zip countryCodeV2 }
    fulfillmentOrders(first: 5) {
      nodes { id status lineItems(first: 50) { nodes { id remainingQuantity lineItem { id sku } } } }
    }
    fulfillments { id trackingInfo { company number url } fulfillmentLineItems(first: 50) {
      nodes { quantity lineItem { sku } } } }
  }
}"""

FULFIL = """
mutation Fulfil($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}"""


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with simulator(ShopifySettings(clock=CLOCK)) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with fresh(base_url) as client:
        yield client


def read(http: httpx.Client, order: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = gql(http, ORDER, {"id": order["admin_graphql_api_id"]})["data"]["order"]
    return found


def fulfil(
    http: httpx.Client, fo: dict[str, Any], picks: dict[str, int] | None, number: str
) -> dict[str, Any]:
    group: dict[str, Any] = {"fulfillmentOrderId": fo["id"]}
    if picks is not None:
        by_sku = {n["lineItem"]["sku"]: n["id"] for n in fo["lineItems"]["nodes"]}
        group["fulfillmentOrderLineItems"] = [{"id": by_sku[s], "quantity": q} for s, q in picks.items()]
    tracking = {"company": "DPD", "number": number, "url": f"https://track.example/{number}"}
    variables = {
        "fulfillment": {
            "lineItemsByFulfillmentOrder": [group],
            "trackingInfo": tracking,
            "notifyCustomer": True,
        }
    }
    result: dict[str, Any] = gql(http, FULFIL, variables)["data"]["fulfillmentCreate"]
    return result


def test_an_order_commits_stock_and_reads_back_through_graphql(http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    seed(http, "B-1", 4)
    order = place_order(http, [("A-1", 3), ("B-1", 1)])
    assert order["name"] == "#1001"
    a = level(http, "A-1")
    assert (a["available"], a["committed"], a["on_hand"]) == (7, 3, 10)
    found = read(http, order)
    assert found["displayFinancialStatus"] == "PAID"
    assert found["displayFulfillmentStatus"] == "UNFULFILLED"
    assert [(n["sku"], n["quantity"]) for n in found["lineItems"]["nodes"]] == [("A-1", 3), ("B-1", 1)]
    assert found["shippingLines"]["nodes"] == [{"title": "Standard Delivery", "code": "Standard Delivery"}]
    assert found["shippingAddress"]["name"] == "Ada Lovelace"
    assert found["shippingAddress"]["countryCodeV2"] == "GB"


def test_partial_fulfilment_then_the_rest(http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    seed(http, "B-1", 4)
    order = place_order(http, [("A-1", 3), ("B-1", 2)])
    [fo] = read(http, order)["fulfillmentOrders"]["nodes"]
    first = fulfil(http, fo, {"A-1": 2}, "T1")
    assert first["userErrors"] == []
    assert first["fulfillment"]["trackingInfo"] == [
        {"company": "DPD", "number": "T1", "url": "https://track.example/T1"}
    ]
    after_first = read(http, order)
    assert after_first["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
    [fo] = after_first["fulfillmentOrders"]["nodes"]
    assert fo["status"] == "IN_PROGRESS"
    assert {n["lineItem"]["sku"]: n["remainingQuantity"] for n in fo["lineItems"]["nodes"]} == {
        "A-1": 1,
        "B-1": 2,
    }
    a = level(http, "A-1")
    assert (a["available"], a["committed"], a["on_hand"]) == (7, 1, 8)
    too_many = fulfil(http, fo, {"B-1": 3}, "T-X")
    assert too_many["fulfillment"] is None
    assert too_many["userErrors"]
    second = fulfil(http, fo, None, "T2")  # no line items: the rest of the fulfilment order
    assert second["userErrors"] == []
    done = read(http, order)
    assert done["displayFulfillmentStatus"] == "FULFILLED"
    assert done["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"
    shipped = [
        (
            f["trackingInfo"][0]["number"],
            [(n["lineItem"]["sku"], n["quantity"]) for n in f["fulfillmentLineItems"]["nodes"]],
        )
        for f in done["fulfillments"]
    ]
    assert shipped == [("T1", [("A-1", 2)]), ("T2", [("A-1", 1), ("B-1", 2)])]
    control = http.get(f"/_control/orders/{order['id']}").json()
    assert control["display_fulfillment_status"] == "FULFILLED"
    assert [f["tracking_number"] for f in control["fulfillments"]] == ["T1", "T2"]
    again = fulfil(http, fo, None, "T3")
    assert "unfulfillable" in again["userErrors"][0]["message"]


def test_an_edit_that_removes_a_line_releases_its_commitment(http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    seed(http, "B-1", 4)
    order = place_order(http, [("A-1", 3), ("B-1", 2)])
    CLOCK.advance(60)
    edited = http.post(
        f"/_control/orders/{order['id']}/edit",
        json={"line_items": [{"sku": "B-1", "quantity": 0}, {"sku": "A-1", "quantity": 5}]},
    )
    assert edited.status_code == 200, edited.text
    assert level(http, "B-1")["available"] == 4
    assert level(http, "B-1")["committed"] == 0
    assert level(http, "A-1")["committed"] == 5
    found = read(http, order)
    assert [(n["sku"], n["quantity"], n["currentQuantity"]) for n in found["lineItems"]["nodes"]] == [
        ("A-1", 3, 5),
        ("B-1", 2, 0),
    ]
    assert found["updatedAt"] > found["createdAt"]


def test_cancellation_releases_what_has_not_shipped(http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    order = place_order(http, [("A-1", 4)])
    [fo] = read(http, order)["fulfillmentOrders"]["nodes"]
    fulfil(http, fo, {"A-1": 1}, "T1")
    cancelled = http.post(f"/_control/orders/{order['id']}/cancel", json={"reason": "customer"})
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled_at"] is not None
    a = level(http, "A-1")
    assert (a["available"], a["committed"], a["on_hand"]) == (9, 0, 9)
    assert read(http, order)["cancelledAt"] is not None
    assert http.post(f"/_control/orders/{order['id']}/cancel", json={}).status_code == 409
    assert http.post(f"/_control/orders/{order['id']}/edit", json={"line_items": []}).status_code == 409


def test_the_catch_up_query_pages_orders_updated_since_a_time(http: httpx.Client) -> None:
    seed(http, "A-1", 100)
    old = place_order(http, [("A-1", 1)])
    CLOCK.advance(3600)
    since = CLOCK.now.isoformat()
    CLOCK.advance(1)
    newer = [place_order(http, [("A-1", 1)]) for _ in range(3)]
    CLOCK.advance(1)
    http.post(f"/_control/orders/{old['id']}/cancel", json={})  # an old order updated now
    query = """
    query Since($q: String, $after: String) {
      orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
        edges { node { name updatedAt cancelledAt } } pageInfo { hasNextPage endCursor }
      }
    }"""
    names: list[str] = []
    after = None
    while True:
        page = gql(http, query, {"q": f"updated_at:>'{since}'", "after": after})["data"]["orders"]
        names += [e["node"]["name"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert names == [o["name"] for o in newer] + [old["name"]]


def test_an_order_for_an_unknown_order_id_is_a_404(http: httpx.Client) -> None:
    assert http.get("/_control/orders/999999").status_code == 404
    assert gql(http, ORDER, {"id": "gid://shopify/Order/999999"})["data"]["order"] is None


def test_an_edit_below_what_has_shipped_is_refused_whole(http: httpx.Client) -> None:
    seed(http, "A-1", 10)
    seed(http, "B-1", 4)
    order = place_order(http, [("A-1", 3), ("B-1", 2)])
    [fo] = read(http, order)["fulfillmentOrders"]["nodes"]
    fulfil(http, fo, {"A-1": 2}, "T1")
    changes = {"line_items": [{"sku": "B-1", "quantity": 0}, {"sku": "A-1", "quantity": 1}]}
    refused = http.post(f"/_control/orders/{order['id']}/edit", json=changes)
    assert refused.status_code == 409
    assert level(http, "B-1")["committed"] == 2  # the first change was not applied either
    assert [n["currentQuantity"] for n in read(http, order)["lineItems"]["nodes"]] == [3, 2]
