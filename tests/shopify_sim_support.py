"""Helpers for tests against the Shopify simulator: a clock the test moves, GraphQL calls, seeding."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

TOKEN = "shpat_test"
SECRET = "shopify-secret"
VERSION = "2026-04"
LOCATION = "gid://shopify/Location/1"

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
