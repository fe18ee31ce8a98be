"""The Shopify store's part of the chaos day: paid orders placed on the store (route clarus: straight
to the warehouse), one in ten cancelled and one in ten edited soon after, while the store's webhook
faults (duplicate, re-order, delay, loss) and API faults are on. The warehouse despatches them as it
does the IMS orders (`ScriptedDay._despatch_ready`); the checks are `chaos/storefront_order_checks.py`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

SHOP_CHANNEL = "shopify"
SHOP_PREFIX = "SHOP-"  # storefronts.shopify.reference_prefix in the chaos configuration
SHIP_TITLE = "UPS Ground"  # mapped to Clarus STD by the demo's ship methods
TOPICS = ["orders/create", "orders/updated", "orders/edited", "orders/cancelled", "orders/paid"]
ADDRESS = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "address1": "12 Analytical St",
    "city": "London",
    "zip": "N1 9GU",
    "country_code": "GB",
}


@dataclass
class ShopRecord:
    """What the day did on the store: Clarus reference (prefix + order number) -> Shopify order id."""

    orders: dict[str, int] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)
    edited: set[str] = field(default_factory=set)


class ShopOrders:
    def __init__(self, http: httpx.Client, store_url: str, skus: list[str], seed: int) -> None:
        self.http = http
        self.url = store_url
        self.skus = skus
        self.rng = random.Random(f"chaos-shop:{seed}")
        self.record = ShopRecord()

    def subscribe(self, hub_url: str) -> None:
        """The hub's order webhooks at the store (the merchant's app set-up does this once)."""
        hook = f"{hub_url}/webhooks/shopify/{SHOP_CHANNEL}"
        body = {"address": hook, "topics": TOPICS}
        self.http.post(f"{self.url}/_control/webhooks", json=body).raise_for_status()

    def place(self, count: int) -> list[str]:
        """`count` paid orders of one to three SKUs; their references."""
        placed = []
        for _ in range(count):
            skus = self.rng.sample(self.skus, self.rng.randint(1, 3))
            body = {
                "email": "ada@example.com",
                "line_items": [{"sku": sku, "quantity": self.rng.randint(1, 3)} for sku in skus],
                "shipping_lines": [{"title": SHIP_TITLE}],
                "shipping_address": ADDRESS,
            }
            order = self._post("/_control/orders", body)
            reference = SHOP_PREFIX + str(order["name"]).lstrip("#")
            self.record.orders[reference] = int(order["id"])
            placed.append(reference)
            self._change_maybe(reference, order)
        return placed

    def _change_maybe(self, reference: str, order: dict[str, Any]) -> None:
        """One in ten cancelled, one in ten edited (a line removed, or a quantity changed), at once:
        often while the hub is still sending the order."""
        roll = self.rng.random()
        if roll < 0.1:
            self._post(f"/_control/orders/{order['id']}/cancel", {})
            self.record.cancelled.add(reference)
        elif roll < 0.2:
            items = order["line_items"]
            item = items[-1]
            quantity = 0 if len(items) > 1 else int(item["quantity"]) + 1
            edit = {"line_items": [{"id": item["id"], "quantity": quantity}]}
            self._post(f"/_control/orders/{order['id']}/edit", edit)
            self.record.edited.add(reference)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.url}{path}", json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer
