"""The Shopify store in the inventory burst: its simulator at the standard plan's limits, its
products, the hub's `storefronts:` entry, its own call counts and the oracle's verdict.

Limits (docs/simulators/shopify.md, ../shared/reference/shopify.md): a 1000-point bucket restored at
100 points/s, 10 points per mutation, up to 250 quantities per `inventorySetQuantities`. The floor is
what that bucket allows for one figure per SKU with full calls: SKUs ÷ 250 ÷ (100 ÷ 10) seconds.
The channel sets against the figure it last pushed (docs/decisions/0036), so a burst on a catalogue
the hub has pushed before costs no reads; `read_calls` and `read_cost` show any it made.
"""

from __future__ import annotations

import time
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
LIMITS_TEXT = (
    f"The Shopify store (simulator) at the standard plan: a {BUCKET_SIZE}-point bucket restored at "
    f"{RESTORE_RATE:g} points/s, {MUTATION_COST} points a mutation, {LINES} quantities per "
    "inventorySetQuantities, so Shopify's floor is SKUs ÷ 250 ÷ 10 calls/s; the warm-up ran with the "
    "store opened wide (its first push of a SKU reads it), the burst at the standard plan. "
)
WIDE_OPEN = {"bucket_size": 10_000_000, "restore_rate": 10_000_000.0}
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


def open_wide(http: httpx.Client, url: str) -> None:
    """A bucket that never runs dry (the warm-up's first reads of every SKU are not measured)."""
    http.post(f"{url}/_control/limits", json=WIDE_OPEN).raise_for_status()


def standard_plan(http: httpx.Client, url: str) -> None:
    """Back to the standard plan, and a full bucket before the burst, as after an idle minute."""
    plan = {"bucket_size": BUCKET_SIZE, "restore_rate": RESTORE_RATE}
    http.post(f"{url}/_control/limits", json=plan).raise_for_status()
    while http.get(f"{url}/_control/calls").json()["throttle_status"]["currentlyAvailable"] < BUCKET_SIZE:
        time.sleep(0.2)


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
    skus: int,
    before: dict[str, Any],
    after: dict[str, Any],
    movements: int,
    converge: float,
    released: float,
    first_call: float,
) -> dict[str, Any]:
    """The run's Shopify figures from the store's own counts (`/_control/calls`, before and after)."""
    made = after["calls"] - before["calls"]
    per_op = {k: v - before["per_operation"].get(k, 0) for k, v in after["per_operation"].items()}
    cost = {k: v - before["cost_per_operation"].get(k, 0) for k, v in after["cost_per_operation"].items()}
    floor = skus / LINES / (RESTORE_RATE / MUTATION_COST)
    return {
        "shopify_converge_s": round(converge, 2),
        "shopify_floor_s": round(floor, 2),
        "shopify_converge_ratio": round(converge / floor, 3),
        "shopify_from_release_s": round(released, 2),
        "shopify_first_call_s": round(first_call, 2),
        "shopify_calls": made,
        "shopify_calls_ratio": round(made / movements, 5),
        "shopify_set_calls": per_op.get("inventorySetQuantities", 0),
        "shopify_read_calls": sum(v for k, v in per_op.items() if k != "inventorySetQuantities"),
        "shopify_cost_spent": after["cost_spent"] - before["cost_spent"],
        "shopify_read_cost": sum(v for k, v in cost.items() if "inventorySetQuantities" not in k),
        "shopify_throttled": after["throttled"] - before["throttled"],
    }
