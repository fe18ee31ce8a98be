"""The Shopify simulator's webhooks over real HTTP: signed, retried, and faulted by a seeded RNG."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers import run_app
from tests.shopify_sim_support import SECRET, SET_QUANTITIES, gql, place_order, seed, set_input, simulator

from stockbridge.simulators.shopify import ShopifySettings

TOPICS = ["orders/create", "orders/updated", "orders/edited", "orders/cancelled", "fulfillments/create"]


@dataclass
class Receiver:
    """A webhook endpoint that records what arrives and answers with the statuses it is told."""

    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn; 200 once used up
    stall_s: float = 0.0  # the first request waits this long (a slow endpoint)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def endpoint(self, request: Request) -> Response:
        import asyncio

        body = await request.body()
        with self.lock:
            self.received.append((dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 200
            stall, self.stall_s = self.stall_s, 0.0
        if stall:
            await asyncio.sleep(stall)
        return Response(status_code=status)

    def topics(self) -> list[str]:
        with self.lock:
            return [headers["x-shopify-topic"] for headers, _ in self.received]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    app = Starlette(routes=[Route("/webhooks/shopify", target.endpoint, methods=["POST"])])
    with run_app(app) as url:
        yield target, f"{url}/webhooks/shopify"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    settings = ShopifySettings(webhook_timeout_s=0.5, webhook_retry_delays_s=(0.05, 0.1, 0.2))
    with simulator(settings) as url:
        yield url


@pytest.fixture
def http(base_url: str, receiver: tuple[Receiver, str]) -> Iterator[httpx.Client]:
    target, address = receiver
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200  # cancels deliveries still in flight
        with target.lock:
            target.received.clear()
            target.statuses.clear()
        assert (
            client.post("/_control/webhooks", json={"address": address, "topics": TOPICS}).status_code == 200
        )
        yield client


def place(http: httpx.Client, sku: str = "A-1", quantity: int = 1) -> dict[str, Any]:
    return place_order(http, [(sku, quantity)], address=None)


def deliveries(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get("/_control/webhooks").json()["deliveries"]
    return found


def test_an_order_sends_a_signed_webhook_the_hub_can_verify(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    order = place(http)
    wait_for(lambda: target.topics() == ["orders/create"])
    headers, raw = target.received[0]
    expected = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    assert hmac.compare_digest(headers["x-shopify-hmac-sha256"], expected)
    assert headers["x-shopify-shop-domain"] == "stockbridge-test.myshopify.com"
    assert headers["x-shopify-api-version"] == "2026-04"
    assert headers["x-shopify-webhook-id"]
    assert headers["x-shopify-event-id"]
    assert headers["x-shopify-triggered-at"].endswith("Z")
    body = json.loads(raw)
    assert body["admin_graphql_api_id"] == order["admin_graphql_api_id"]
    assert body["line_items"][0]["sku"] == "A-1"
    assert body["line_items"][0]["current_quantity"] == 1
    assert body["shipping_lines"][0]["title"] == "Standard Delivery"
    tampered = raw.replace(b"A-1", b"A-2")
    forged = base64.b64encode(hmac.new(SECRET.encode(), tampered, hashlib.sha256).digest()).decode()
    assert forged != headers["x-shopify-hmac-sha256"]


def test_each_change_sends_its_topics(http: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    order = place(http, quantity=2)
    http.post(f"/_control/orders/{order['id']}/edit", json={"line_items": [{"sku": "A-1", "quantity": 1}]})
    http.post(f"/_control/orders/{order['id']}/cancel", json={})
    wait_for(lambda: len(target.topics()) == 5)
    assert sorted(target.topics()) == sorted(
        ["orders/create", "orders/edited", "orders/updated", "orders/cancelled", "orders/updated"]
    )
    edits = [json.loads(raw) for h, raw in target.received if h["x-shopify-topic"] == "orders/edited"]
    assert edits[0]["order_edit"]["line_items"]["removals"] == [
        {"id": order["line_items"][0]["id"], "delta": 1}
    ]


def test_a_failed_or_slow_delivery_is_retried_with_the_same_webhook_id(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    with target.lock:
        target.statuses.extend([500, 500])  # the first is stalled past the timeout anyway
        target.stall_s = 1.0  # over the 0.5 s timeout: counts as a failure
    place(http)
    wait_for(lambda: any(d["delivered"] for d in deliveries(http)))
    [delivery] = deliveries(http)
    assert delivery["attempts"][-1] == 200
    assert len(delivery["attempts"]) == 3
    assert delivery["attempts"] == ["timeout", 500, 200]
    ids = {headers["x-shopify-webhook-id"] for headers, _ in target.received}
    assert ids == {delivery["webhook_id"]}


def test_duplicate_fault_sends_the_same_webhook_twice(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    http.post("/_control/faults", json={"duplicate_rate": 1.0, "seed": 7})
    place(http)
    wait_for(lambda: len(target.received) == 2)
    first, second = (headers for headers, _ in target.received)
    assert first["x-shopify-webhook-id"] == second["x-shopify-webhook-id"]
    assert deliveries(http)[0]["duplicated"] is True


def _loss_pattern(http: httpx.Client, address: str) -> list[bool]:
    http.post("/_control/reset")
    http.post("/_control/webhooks", json={"address": address, "topics": ["orders/create"]})
    http.post("/_control/faults", json={"loss_rate": 0.5, "seed": 42})
    seed(http, "A-1", 100)
    for _ in range(12):
        place(http)
    wait_for(lambda: all(d["lost"] or d["delivered"] for d in deliveries(http)))
    return [d["lost"] for d in deliveries(http)]


def test_loss_fault_drops_deliveries_reproducibly_by_seed(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, address = receiver
    pattern = _loss_pattern(http, address)
    assert any(pattern)
    assert not all(pattern)
    wait_for(lambda: len(target.received) >= pattern.count(False))
    time.sleep(0.3)  # give a wrongly sent lost delivery the time to show up
    lost_ids = {d["webhook_id"] for d in deliveries(http) if d["lost"]}
    arrived = {headers["x-shopify-webhook-id"] for headers, _ in target.received}
    assert not lost_ids & arrived
    assert _loss_pattern(http, address) == pattern


def test_reorder_fault_holds_a_delivery_back(http: httpx.Client, receiver: tuple[Receiver, str]) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    http.post("/_control/faults", json={"reorder_rate": 1.0, "seed": 1})
    first = place(http)
    http.post("/_control/faults", json={"reorder_rate": 0.0})
    second = place(http)
    wanted = {first["id"], second["id"]}

    def arrived() -> list[int]:
        with target.lock:
            ids = [json.loads(raw)["id"] for _, raw in target.received]
        return [i for i in ids if i in wanted]

    wait_for(lambda: len(arrived()) == 2)
    assert arrived() == [second["id"], first["id"]]


def test_webhook_subscription_create_through_graphql(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, address = receiver
    http.post("/_control/reset")
    mutation = """
    mutation Sub($uri: String!) {
      webhookSubscriptionCreate(topic: ORDERS_CANCELLED, webhookSubscription: {uri: $uri}) {
        webhookSubscription { id topic uri } userErrors { message }
      }
    }"""
    response = http.post(
        "/admin/api/2026-04/graphql.json",
        json={"query": mutation, "variables": {"uri": address}},
        headers={"X-Shopify-Access-Token": "shpat_test"},
    )
    created = response.json()["data"]["webhookSubscriptionCreate"]
    assert created["userErrors"] == []
    seed(http, "A-1", 5)
    order = place(http)
    http.post(f"/_control/orders/{order['id']}/cancel", json={})
    wait_for(lambda: target.topics() == ["orders/cancelled"])


def test_a_fulfilment_sends_fulfillments_create_with_its_tracking(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, _ = receiver
    seed(http, "A-1", 5)
    order = place(http, quantity=2)
    query = """
    query ($id: ID!) { order(id: $id) { fulfillmentOrders(first: 1) { nodes { id
      lineItems(first: 5) { nodes { id } } } } } }"""
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    url = "/admin/api/2026-04/graphql.json"
    found = http.post(
        url, json={"query": query, "variables": {"id": order["admin_graphql_api_id"]}}, headers=headers
    )
    [fo] = found.json()["data"]["order"]["fulfillmentOrders"]["nodes"]
    mutation = """
    mutation ($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }"""
    group = {
        "fulfillmentOrderId": fo["id"],
        "fulfillmentOrderLineItems": [{"id": fo["lineItems"]["nodes"][0]["id"], "quantity": 1}],
    }
    fulfilment = {"lineItemsByFulfillmentOrder": [group], "trackingInfo": {"company": "DPD", "number": "T9"}}
    http.post(url, json={"query": mutation, "variables": {"f": fulfilment}}, headers=headers)
    wait_for(lambda: "fulfillments/create" in target.topics())
    [body] = [json.loads(raw) for h, raw in target.received if h["x-shopify-topic"] == "fulfillments/create"]
    assert body["order_id"] == order["id"]
    assert body["tracking_number"] == "T9"
    assert body["line_items"] == [
        {
            "id": order["line_items"][0]["id"],
            "sku": "A-1",
            "quantity": 1,
            "variant_id": order["line_items"][0]["variant_id"],
        }
    ]

    def partial_update_arrived() -> bool:
        updates = [json.loads(raw) for h, raw in target.received if h["x-shopify-topic"] == "orders/updated"]
        return any(update["fulfillment_status"] == "partial" for update in updates)

    wait_for(partial_update_arrived)


def test_inventory_levels_update_follows_a_set_and_an_order(
    http: httpx.Client, receiver: tuple[Receiver, str]
) -> None:
    target, address = receiver
    http.post("/_control/reset")
    http.post("/_control/webhooks", json={"address": address, "topics": ["inventory_levels/update"]})
    item = seed(http, "A-1", 5)["inventory_item_id"]
    gql(http, SET_QUANTITIES, {"input": set_input(item, 8, 5), "key": "k-1"})
    place(http, quantity=3)
    wait_for(lambda: len(target.received) == 2)
    figures = sorted(json.loads(raw)["available"] for _, raw in target.received)
    assert figures == [5, 8]
    assert {json.loads(raw)["inventory_item_id"] for _, raw in target.received} == {
        int(item.rsplit("/", 1)[1])
    }
