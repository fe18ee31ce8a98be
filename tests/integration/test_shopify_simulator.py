"""The Shopify simulator over real HTTP: auth, paging, inventorySetQuantities' rules, the cost bucket."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from tests.shopify_sim_support import (
    LOCATION,
    SET_QUANTITIES,
    StepClock,
    fresh,
    gql,
    level,
    seed,
    set_input,
    simulator,
)

from stockbridge.simulators.shopify import ShopifySettings

CLOCK = StepClock()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with simulator(ShopifySettings(clock=CLOCK)) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with fresh(base_url) as client:
        yield client


def test_a_wrong_or_missing_token_is_refused_with_shopifys_body(http: httpx.Client) -> None:
    for headers in ({"X-Shopify-Access-Token": "shpat_wrong"}, {}):
        query = {"query": "{ shop { name } }"}
        response = http.post("/admin/api/2026-04/graphql.json", json=query, headers=headers)
        assert response.status_code == 401
        assert response.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
    assert http.get("/_control/calls").json()["unauthorized"] == 2


def test_an_unsupported_version_is_not_found(http: httpx.Client) -> None:
    response = http.post(
        "/admin/api/2019-01/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": "shpat_test"},
    )
    assert response.status_code == 404


def test_the_shop_and_its_first_location(http: httpx.Client) -> None:
    body = gql(http, "{ shop { name } locations(first: 5) { nodes { id name } } }")
    assert body["data"]["shop"]["name"] == "Stockbridge Test Store"
    assert [n["id"] for n in body["data"]["locations"]["nodes"]] == [LOCATION]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + 2 + 5
    assert cost["actualQueryCost"] == 1 + 2 + 1
    assert cost["throttleStatus"]["maximumAvailable"] == 1000.0


def test_a_query_pages_through_variants_to_the_end(http: httpx.Client) -> None:
    skus = [f"SKU-{n}" for n in range(5)]
    for n, sku in enumerate(skus):
        seed(http, sku, n)
    query = """
    query Page($after: String) {
      productVariants(first: 2, after: $after) {
        edges { node { sku inventoryItem { id inventoryLevel(locationId: "gid://shopify/Location/1") {
          quantities(names: ["available", "on_hand"]) { name quantity } } } } }
        pageInfo { hasNextPage endCursor }
      }
    }"""
    seen: list[tuple[str, int]] = []
    after = None
    pages = 0
    while True:
        page = gql(http, query, {"after": after})["data"]["productVariants"]
        pages += 1
        for edge in page["edges"]:
            quantities = edge["node"]["inventoryItem"]["inventoryLevel"]["quantities"]
            seen.append((edge["node"]["sku"], quantities[0]["quantity"]))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [(sku, n) for n, sku in enumerate(skus)]
    found = gql(http, '{ productVariants(first: 5, query: "sku:SKU-3") { nodes { sku } } }')
    assert found["data"]["productVariants"]["nodes"] == [{"sku": "SKU-3"}]
    either = gql(http, "{ inventoryItems(first: 5, query: \"sku:SKU-1 OR sku:'SKU-4'\") { nodes { sku } } }")
    assert either["data"]["inventoryItems"]["nodes"] == [{"sku": "SKU-1"}, {"sku": "SKU-4"}]


def test_set_quantities_sets_available_and_logs_the_change(http: httpx.Client) -> None:
    item = seed(http, "A-1", 7)["inventory_item_id"]
    body = gql(http, SET_QUANTITIES, {"input": set_input(item, 10, 7), "key": "k-1"})
    result = body["data"]["inventorySetQuantities"]
    assert result["userErrors"] == []
    changes = {c["name"]: c for c in result["inventoryAdjustmentGroup"]["changes"]}
    assert changes["available"]["delta"] == 3
    assert changes["available"]["quantityAfterChange"] == 10
    assert changes["on_hand"]["quantityAfterChange"] == 10
    assert level(http, "A-1")["available"] == 10
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    [logged] = http.get("/_control/mutations").json()["mutations"]
    assert (logged["sku"], logged["from"], logged["to"], logged["idempotency_key"]) == ("A-1", 7, 10, "k-1")


def test_a_stale_change_from_quantity_applies_nothing(http: httpx.Client) -> None:
    first = seed(http, "B-1", 5)["inventory_item_id"]
    second = seed(http, "B-2", 5)["inventory_item_id"]
    payload = set_input(first, 9, 5)
    payload["quantities"].append({**set_input(second, 9, 4)["quantities"][0]})  # B-2 is really 5
    result = gql(http, SET_QUANTITIES, {"input": payload, "key": "k-stale"})["data"]["inventorySetQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    assert [e["code"] for e in result["userErrors"]] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert result["userErrors"][0]["field"] == ["input", "quantities", "1", "changeFromQuantity"]
    assert level(http, "B-1")["available"] == 5
    assert level(http, "B-2")["available"] == 5
    assert http.get("/_control/mutations").json()["mutations"] == []


def test_null_change_from_quantity_skips_the_check(http: httpx.Client) -> None:
    item = seed(http, "C-1", 5)["inventory_item_id"]
    result = gql(http, SET_QUANTITIES, {"input": set_input(item, 2, None), "key": "k-null"})
    assert result["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(http, "C-1")["available"] == 2


def test_the_same_key_replayed_returns_the_first_result_without_applying_again(http: httpx.Client) -> None:
    item = seed(http, "D-1", 5)["inventory_item_id"]
    first = gql(http, SET_QUANTITIES, {"input": set_input(item, 8, 5), "key": "k-replay"})
    again = gql(http, SET_QUANTITIES, {"input": set_input(item, 8, 5), "key": "k-replay"})
    assert again["data"] == first["data"]
    assert len(http.get("/_control/mutations").json()["mutations"]) == 1
    http.post("/_control/inventory", json={"sku": "D-1", "available": 3})  # a merchant changes it
    gql(http, SET_QUANTITIES, {"input": set_input(item, 8, 5), "key": "k-replay"})
    assert level(http, "D-1")["available"] == 3  # the replay applied nothing
    other = gql(http, SET_QUANTITIES, {"input": set_input(item, 9, 3), "key": "k-replay"})
    errors = other["data"]["inventorySetQuantities"]["userErrors"]
    assert [e["code"] for e in errors] == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]
    assert level(http, "D-1")["available"] == 3


def test_2026_04_requires_the_directive_and_change_from_quantity(http: httpx.Client) -> None:
    item = seed(http, "E-1", 5)["inventory_item_id"]
    no_key = SET_QUANTITIES.replace(", $key: String!", "").replace(" @idempotent(key: $key)", "")
    body = gql(http, no_key, {"input": set_input(item, 1, 5)})
    assert body["data"]["inventorySetQuantities"] is None
    assert "@idempotent" in body["errors"][0]["message"]
    line = set_input(item, 1, 5)
    del line["quantities"][0]["changeFromQuantity"]
    body = gql(http, SET_QUANTITIES, {"input": line, "key": "k-missing"})
    assert body["data"]["inventorySetQuantities"] is None
    assert "changeFromQuantity" in body["errors"][0]["message"]
    assert level(http, "E-1")["available"] == 5
    older = gql(http, no_key, {"input": {**line, "ignoreCompareQuantity": True}}, version="2026-01")
    assert older["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(http, "E-1")["available"] == 1


def test_only_available_and_on_hand_can_be_set_and_calls_are_capped(http: httpx.Client) -> None:
    item = seed(http, "F-1", 5)["inventory_item_id"]
    body = gql(http, SET_QUANTITIES, {"input": set_input(item, 1, 0, name="committed"), "key": "k-name"})
    assert [e["code"] for e in body["data"]["inventorySetQuantities"]["userErrors"]] == ["INVALID_NAME"]
    http.post("/_control/limits", json={"max_quantities_per_call": 1})
    payload = set_input(item, 1, 5)
    payload["quantities"] *= 2
    body = gql(http, SET_QUANTITIES, {"input": payload, "key": "k-cap"})
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert level(http, "F-1")["available"] == 5


def test_setting_on_hand_moves_available_with_it(http: httpx.Client) -> None:
    item = seed(http, "G-1", 5)["inventory_item_id"]
    http.post("/_control/inventory", json={"sku": "G-1", "committed": 2})
    body = gql(http, SET_QUANTITIES, {"input": set_input(item, 10, 7, name="on_hand"), "key": "k-oh"})
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    row = level(http, "G-1")
    assert (row["on_hand"], row["available"], row["committed"]) == (10, 8, 2)


def test_the_bucket_throttles_then_restores(http: httpx.Client) -> None:
    http.post("/_control/limits", json={"bucket_size": 100, "restore_rate": 10})
    query = "{ productVariants(first: 40) { nodes { sku } } }"  # requested 2 + 40 = 42
    item = seed(http, "H-1", 1)["inventory_item_id"]
    assert gql(http, query)["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 97.0
    for n in range(9):  # 10 points a mutation
        gql(http, SET_QUANTITIES, {"input": set_input(item, n, None), "key": f"k-{n}"})
    throttled = gql(http, SET_QUANTITIES, {"input": set_input(item, 50, None), "key": "k-late"})
    assert throttled["errors"] == [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ]
    assert "data" not in throttled
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 7.0
    assert level(http, "H-1")["available"] == 8  # no effect
    CLOCK.advance(0.3)  # 3 points back: 10 available
    again = gql(http, SET_QUANTITIES, {"input": set_input(item, 50, None), "key": "k-late"})
    assert again["data"]["inventorySetQuantities"]["userErrors"] == []
    assert level(http, "H-1")["available"] == 50
    calls = http.get("/_control/calls").json()
    assert calls["throttled"] == 1
    assert calls["per_operation"]["inventorySetQuantities"] == 11


def test_a_query_over_the_bucket_size_is_refused(http: httpx.Client) -> None:
    http.post("/_control/limits", json={"bucket_size": 100})
    body = gql(http, "{ productVariants(first: 200) { nodes { sku } } }")
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_a_parse_error_is_a_graphql_error_not_a_crash(http: httpx.Client) -> None:
    body = gql(http, "{ shop { name ")
    assert body["errors"]
    assert "data" not in body
    body = gql(http, "{ shop { nonsense } }")
    assert "nonsense" in body["errors"][0]["message"]


def test_a_write_lost_after_commit_and_retried_with_its_key_applies_once(http: httpx.Client) -> None:
    item = seed(http, "J-1", 5)["inventory_item_id"]
    http.post("/_control/faults", json={"api": {"fail_after_commit_rate": 1.0}})
    variables = {"query": SET_QUANTITIES, "variables": {"input": set_input(item, 6, 5), "key": "k-lost"}}
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    lost = http.post("/admin/api/2026-04/graphql.json", json=variables, headers=headers)
    assert lost.status_code == 502
    assert level(http, "J-1")["available"] == 6  # it did apply
    http.post("/_control/faults", json={"api": {"fail_after_commit_rate": 0.0}})
    retried = gql(http, SET_QUANTITIES, variables["variables"])
    assert retried["data"]["inventorySetQuantities"]["userErrors"] == []  # the first result, not stale
    assert len(http.get("/_control/mutations").json()["mutations"]) == 1


def test_an_outage_is_a_503_and_runs_nothing(http: httpx.Client) -> None:
    item = seed(http, "K-1", 5)["inventory_item_id"]
    http.post("/_control/faults", json={"api": {"outage": True}})
    body = {"query": SET_QUANTITIES, "variables": {"input": set_input(item, 1, 5), "key": "k-out"}}
    answer = http.post(
        "/admin/api/2026-04/graphql.json", json=body, headers={"X-Shopify-Access-Token": "shpat_test"}
    )
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert level(http, "K-1")["available"] == 5
    assert http.get("/_control/calls").json()["failed_injected"] == 1


def test_a_location_pages_through_its_levels(http: httpx.Client) -> None:
    second = http.post("/_control/locations", json={"name": "Leeds"}).json()["id"]
    for n in range(3):
        seed(http, f"L-{n}", n)
    seed(http, "ELSEWHERE", 9, location=second)
    query = """
    query ($id: ID!, $after: String) { location(id: $id) { name inventoryLevels(first: 2, after: $after) {
      nodes { item { sku } quantities(names: ["available"]) { quantity } }
      pageInfo { hasNextPage endCursor } } } }"""
    rows: list[tuple[str, int]] = []
    after = None
    while True:
        page = gql(http, query, {"id": LOCATION, "after": after})["data"]["location"]["inventoryLevels"]
        rows += [(n["item"]["sku"], n["quantities"][0]["quantity"]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert rows == [("L-0", 0), ("L-1", 1), ("L-2", 2)]
    there = gql(http, "query ($id: ID!) { location(id: $id) { name } }", {"id": second})
    assert there["data"]["location"]["name"] == "Leeds"
