"""Helpers for tests against the Shopify simulator: running it, a clock the test moves, GraphQL
calls, seeding products and placing orders."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.servers import run_app

from stockbridge.simulators.shopify import ShopifySettings, create_app

TOKEN = "shpat_test"
SECRET = "shopify-secret"
VERSION = "2026-04"
LOCATION = "gid://shopify/Location/1"
# The shipping address of the orders placed here, as the REST Admin API writes it.
ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "1 Main St",
    "city": "Leeds",
    "zip": "LS1 1AA",
    "country_code": "GB",
}

SET_QUANTITIES = """
mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}
"""


class StepClock:
    """Wall time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def gql(
    http: httpx.Client,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    version: str = VERSION,
    token: str = TOKEN,
) -> dict[str, Any]:
    response = http.post(
        f"/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seed(http: httpx.Client, sku: str, available: int, location: str = LOCATION) -> dict[str, Any]:
    response = http.post(
        "/_control/products",
        json={"title": f"Product {sku}", "variants": [{"sku": sku, "inventory": {location: available}}]},
    )
    assert response.status_code == 200, response.text
    variant: dict[str, Any] = response.json()["variants"][0]
    return variant


@contextmanager
def simulator(settings: ShopifySettings | None = None) -> Iterator[str]:
    """A Shopify simulator on a loopback port (by default with this module's token and secret)."""
    with run_app(create_app(settings or ShopifySettings(access_token=TOKEN, api_secret=SECRET))) as url:
        yield url


@contextmanager
def fresh(url: str) -> Iterator[httpx.Client]:
    """A control client of the simulator at `url`, reset first (empty store, full bucket)."""
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200
        yield client


def order_body(
    lines: Sequence[tuple[str, int]],
    *,
    ship: str | None = "Standard Delivery",
    address: dict[str, Any] | None = ADDRESS,
    email: str = "ada@example.com",
    **extra: Any,
) -> dict[str, Any]:
    """A `/_control/orders` body: (sku, quantity) lines, a shipping line titled `ship` and `address`
    (either left out when None)."""
    body: dict[str, Any] = {
        "email": email,
        "line_items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines],
        **extra,
    }
    if ship is not None:
        body["shipping_lines"] = [{"title": ship}]
    if address is not None:
        body["shipping_address"] = address
    return body


def place_order(http: httpx.Client, lines: Sequence[tuple[str, int]], **body: Any) -> dict[str, Any]:
    """Place an order as a customer would (`order_body`'s options); its REST payload."""
    response = http.post("/_control/orders", json=order_body(lines, **body))
    assert response.status_code == 200, response.text
    order: dict[str, Any] = response.json()
    return order


def level(http: httpx.Client, sku: str, location: str = LOCATION) -> dict[str, Any]:
    for row in http.get("/_control/inventory").json()["levels"]:
        if row["sku"] == sku and row["location_id"] == location:
            found: dict[str, Any] = row
            return found
    raise AssertionError(f"no level for {sku} at {location}")


def set_input(
    item: str, quantity: int, change_from: int | None, *, name: str = "available"
) -> dict[str, Any]:
    """An inventorySetQuantities input for one quantity at the first location."""
    line = {"inventoryItemId": item, "locationId": LOCATION, "quantity": quantity}
    line["changeFromQuantity"] = change_from
    uri = "stockbridge://batch/1"
    return {"name": name, "reason": "correction", "referenceDocumentUri": uri, "quantities": [line]}
