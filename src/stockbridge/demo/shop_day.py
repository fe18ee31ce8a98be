"""The demo's Shopify store: the simulator's settings and seed, the store's configuration, its orders
of the day placed through the simulator's control API (docs/simulators/shopify.md), and the oracle's
judgement of what Clarus and the store should show, from the simulators' own state.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from stockbridge.demo.orders_day import ODD_SKUS
from stockbridge.demo.traffic import sku_name
from stockbridge.oracle import (
    OracleSettings,
    OrderReport,
    check_storefront_fulfilments,
    check_storefront_orders,
    read_truth,
)
from stockbridge.simulators.shopify import ApiFaults, ShopifySettings, WebhookFaults

SHOP = "shopify"  # the channel's name: its key under storefronts: and targets:
SHOP_TOKEN = "demo-shopify-token"
SHOP_SECRET = "demo-shopify-secret"
SHOP_DOMAIN = "stockbridge-demo.myshopify.com"
SHOP_LOCATION = "gid://shopify/Location/1"
PREFIX = "SHOP-"
# The store's shipping titles; 'Royal Mail Tracked 24' (orders_day.LATE_MAPPED) is mapped mid-day.
SHOP_MAPPED = {"Standard Delivery": "STD", "Express Shipping": "NDAY"}
UNMAPPED = "Royal Mail Tracked 24"
TOPICS = ["orders/create", "orders/updated", "orders/edited", "orders/cancelled", "orders/paid"]
# The store's cost bucket: the Standard plan's (the smallest: 1000 points, 100/s restored). The hub
# is told the store is on a plan twice that size, so it may meet THROTTLED until the answers'
# throttleStatus correct its picture of the bucket (seed 7: it met none; it waits instead).
# (A bucket under ~1000 points cannot carry the
# storefront fulfilment queries at all: they request about that much.)
BUCKET_SIZE = 1000
RESTORE_RATE = 100.0
CONFIGURED_BUCKET_SIZE = 2000
CONFIGURED_RESTORE_RATE = 200.0
VARIANTS_PER_PRODUCT = 50
ADDRESSES: list[dict[str, str]] = [  # Shopify shipping addresses (REST shape)
    {"first_name": "Ada", "last_name": "Lovelace", "address1": "12 Analytical St", "city": "London",
     "zip": "N1 9GU", "country_code": "GB"},
    {"first_name": "Grace", "last_name": "Hopper", "address1": "1 Cobol Way", "address2": "Apt 4",
     "city": "Arlington", "province_code": "VA", "zip": "22201", "country_code": "US"},
]  # fmt: skip


def shop_settings(seed: int) -> ShopifySettings:
    """The simulator as the demo runs it: a small bucket, webhook faults and an API that fails now
    and then (a short outage, the blip, is switched on and off while the warehouse moves stock)."""
    return ShopifySettings(
        access_token=SHOP_TOKEN,
        api_secret=SHOP_SECRET,
        shop_domain=SHOP_DOMAIN,
        bucket_size=BUCKET_SIZE,
        restore_rate=RESTORE_RATE,
        faults=WebhookFaults(duplicate_rate=0.05, reorder_rate=0.05, loss_rate=0.02, delay_ms=5, seed=seed),
        api_faults=ApiFaults(fail_rate=0.02, fail_after_commit_rate=0.01, seed=seed),
    )


def store_config(shop_url: str) -> dict[str, Any]:
    """`storefronts.shopify` for the demo: orders straight to Clarus (route clarus)."""
    return {
        "kind": "shopify",
        "shop_domain": SHOP_DOMAIN,
        "base_url": shop_url,
        "api_version": "2026-04",
        "access_token_env": "SHOPIFY_ACCESS_TOKEN",
        "webhook_secret_env": "SHOPIFY_WEBHOOK_SECRET",
        "locations": {"WH1": SHOP_LOCATION},
        "orders_route": "clarus",
        "reference_prefix": PREFIX,
        "orders_poll_s": 3600,
        "timeout_s": 10,
        "bucket_size": CONFIGURED_BUCKET_SIZE,
        "restore_rate": CONFIGURED_RESTORE_RATE,
    }


def seed_store(http: httpx.Client, shop_url: str, hub_url: str, skus: list[str]) -> None:
    """The demo's SKUs as variants stocked at the store's one location (0 until the hub pushes), and
    the hub subscribed to the store's order webhooks."""
    for start in range(0, len(skus), VARIANTS_PER_PRODUCT):
        chunk = skus[start : start + VARIANTS_PER_PRODUCT]
        body = {
            "title": f"Demo range {start // VARIANTS_PER_PRODUCT + 1}",
            "variants": [{"sku": sku, "inventory": {SHOP_LOCATION: 0}} for sku in chunk],
        }
        http.post(f"{shop_url}/_control/products", json=body).raise_for_status()
    hook = {"address": f"{hub_url}/webhooks/shopify/{SHOP}", "topics": TOPICS}
    http.post(f"{shop_url}/_control/webhooks", json=hook).raise_for_status()


def blip(http: httpx.Client, shop_url: str, on: bool) -> None:
    """Switch the store's API outage on or off (every GraphQL call a 503 meanwhile)."""
    http.post(f"{shop_url}/_control/faults", json={"api": {"outage": on}}).raise_for_status()


def deliveries_done(http: httpx.Client, shop_url: str) -> bool:
    """Has every webhook the store meant to send been delivered or lost?"""
    log = http.get(f"{shop_url}/_control/webhooks").json()["deliveries"]
    return all(d["delivered"] or d["lost"] for d in log)


def shop_calls(http: httpx.Client, shop_url: str) -> dict[str, Any]:
    calls: dict[str, Any] = http.get(f"{shop_url}/_control/calls").json()
    return calls


def shop_orders(http: httpx.Client, shop_url: str) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = http.get(f"{shop_url}/_control/orders").json()["orders"]
    return orders


@dataclass
class ShopDay:
    """A seeded day of Shopify orders: 'Standard Delivery' and 'Express Shipping', some with a
    special-character SKU, one with a shipping title nobody has mapped yet; then edits that remove a
    line and cancellations, while the warehouse has not picked."""

    orders: int
    skus: int
    seed: int
    planned: list[dict[str, Any]] = field(default_factory=list)
    placed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed + 9)
        stock_skus = [sku_name(i) for i in range(1, min(self.skus, 200))]
        for n in range(self.orders):
            lines = {rng.choice(stock_skus): rng.randint(1, 3) for _ in range(rng.randint(1, 3))}
            if rng.random() < 0.12:
                lines[rng.choice(ODD_SKUS)] = rng.randint(1, 2)
            ship = UNMAPPED if n == self.orders // 2 else rng.choice(list(SHOP_MAPPED))
            self.planned.append(
                {
                    "email": f"shopper{n}@example.com",
                    "line_items": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
                    "shipping_lines": [{"title": ship}],
                    "shipping_address": rng.choice(ADDRESSES),
                }
            )

    def place(self, http: httpx.Client, shop_url: str) -> None:
        for body in self.planned:
            response = http.post(f"{shop_url}/_control/orders", json=body)
            response.raise_for_status()
            self.placed.append(response.json())

    def make_changes(self, http: httpx.Client, shop_url: str, clarus_url: str) -> Counter[str]:
        """Customers change their minds before the warehouse picks: a few orders lose a line, a few
        are cancelled (only orders Clarus holds and has not started)."""
        rng = random.Random(self.seed + 10)
        done: Counter[str] = Counter()
        clarus = http.get(f"{clarus_url}/_control/orders").json()["orders"]
        open_ = [
            o
            for o in self.placed
            if clarus.get(PREFIX + str(o["name"]).lstrip("#"), {}).get("status") in ("received", "released")
        ]
        rng.shuffle(open_)
        several = [o for o in open_ if len(o["line_items"]) > 1]
        edits = several[: max(1, len(several) // 20)]
        for order in edits:
            line = order["line_items"][-1]
            body = {"line_items": [{"id": line["id"], "quantity": 0}]}
            http.post(f"{shop_url}/_control/orders/{order['id']}/edit", json=body).raise_for_status()
            done["line_removed"] += 1
        edited = {o["id"] for o in edits}
        for order in [o for o in open_ if o["id"] not in edited][: max(1, len(open_) // 30)]:
            http.post(f"{shop_url}/_control/orders/{order['id']}/cancel", json={}).raise_for_status()
            done["cancelled"] += 1
        return done

    def check(
        self, http: httpx.Client, shop_url: str, clarus_url: str, ims_url: str, settings: OracleSettings
    ) -> OrderReport:
        """The oracle's judgement of Clarus against the store's own orders."""
        truth = read_truth(http, clarus_url, ims_url)
        orders: list[Mapping[str, Any]] = list(shop_orders(http, shop_url))
        return check_storefront_orders(
            orders, truth.clarus_orders, truth.catalog(settings), settings, prefix=PREFIX
        )


def check_fulfilments(
    http: httpx.Client, shop_url: str, clarus_url: str, ims_url: str, settings: OracleSettings
) -> dict[str, Any]:
    """The store's fulfilments against Clarus's shipments of its orders, judged by the oracle; how many
    carry tracking is the store's own record."""
    truth = read_truth(http, clarus_url, ims_url)
    orders: list[Mapping[str, Any]] = list(shop_orders(http, shop_url))
    report = check_storefront_fulfilments(
        orders, truth.clarus_shipments, truth.catalog(settings), settings.sku_rules, prefix=PREFIX
    )
    made = [f for o in orders for f in o.get("fulfillments") or []]
    return {
        "shipments": report.shipments,
        "fulfilments": report.fulfilments,
        "with_tracking": sum(1 for f in made if f.get("tracking_numbers")),
        "orders_fulfilled": sum(1 for o in orders if o.get("display_fulfillment_status") == "FULFILLED"),
        "orders_partial": sum(
            1 for o in orders if o.get("display_fulfillment_status") == "PARTIALLY_FULFILLED"
        ),
        "problems": report.problems,
        "examples": {
            "lost": report.lost[:5],
            "doubled": report.doubled[:5],
            "unexpected": report.unexpected[:5],
            "wrong": report.wrong[:5],
            "status": report.status[:5],
        },
    }
