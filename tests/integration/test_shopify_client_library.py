"""Shopify's official Python client (ShopifyAPI) against the simulator, only its base URL changed.

`shopify.Session` always builds `https://<shop>.myshopify.com` from the shop name, so the one change
is the library's base URL itself, `ShopifyResource.site`, after the session is activated as for a
real store (decision 0018). The query, the headers and the parsing are the library's own.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator

import httpx
import pytest
import shopify
from tests.servers import run_app
from tests.shopify_sim_support import SET_QUANTITIES, TOKEN, VERSION, seed, set_input

from stockbridge.simulators.shopify import ShopifySettings, create_app


@pytest.fixture
def base_url() -> Iterator[str]:
    with run_app(create_app(ShopifySettings())) as url:
        yield url


@pytest.fixture
def store(base_url: str) -> Iterator[str]:
    session = shopify.Session("stockbridge-test.myshopify.com", VERSION, TOKEN)
    shopify.ShopifyResource.activate_session(session)
    shopify.ShopifyResource.site = f"{base_url}/admin/api/{VERSION}"  # the only change: the base URL
    try:
        yield base_url
    finally:
        shopify.ShopifyResource.clear_session()


def test_the_official_client_queries_and_mutates_the_simulator(store: str) -> None:
    with httpx.Client(base_url=store) as http:
        item = seed(http, "LIB-1", 4)["inventory_item_id"]
    client = shopify.GraphQL()
    query = (
        "query ($q: String) { productVariants(first: 5, query: $q) { nodes { sku inventoryItem { id } } } }"
    )
    read = json.loads(client.execute(query, variables={"q": "sku:LIB-1"}))
    assert read["data"]["productVariants"]["nodes"] == [{"sku": "LIB-1", "inventoryItem": {"id": item}}]
    assert read["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 1000.0
    written = json.loads(
        client.execute(SET_QUANTITIES, variables={"input": set_input(item, 9, 4), "key": "lib-1"})
    )
    assert written["data"]["inventorySetQuantities"]["userErrors"] == []
    with httpx.Client(base_url=store) as http:
        levels = http.get("/_control/inventory").json()["levels"]
    assert [row["available"] for row in levels if row["sku"] == "LIB-1"] == [9]


def test_the_official_client_sees_a_wrong_token_refused(store: str) -> None:
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = "shpat_wrong"
    with pytest.raises(urllib.error.HTTPError) as refused:
        shopify.GraphQL().execute("{ shop { name } }")
    assert refused.value.code == 401
