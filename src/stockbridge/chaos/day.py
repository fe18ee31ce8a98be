"""The chaos day: warehouse movements at a steady rate (ten times that during a flood), sales orders
in waves, edits and cancellations, despatches of what the warehouse holds. Built from the demo's
generators (movements, orders, parcels); what it did is written down in a `DayRecord` for the checks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import httpx

from stockbridge.chaos.checks import DayRecord
from stockbridge.chaos.schedule import Profile
from stockbridge.chaos.shop_day import ShopOrders
from stockbridge.chaos.world import World
from stockbridge.demo.despatch_day import despatch_orders
from stockbridge.demo.orders_day import MAPPED, OrderDay, PlannedOrder, create_in_ims
from stockbridge.demo.traffic import Movement, Traffic, sku_name

TICK_S = 0.5
FLOOD_FACTOR = 10
WAVES = 5
DESPATCH_AFTER_S = 8.0  # a wave's orders have usually reached the warehouse by then


def _plain(order: PlannedOrder, skus: set[str]) -> bool:
    """Orders the hub should send as they are: mapped ship method, stock items, full address.
    (Holds, kits and SKU rewriting have their own tests; here every order must arrive.)"""
    return (
        order.status == "B"
        and order.ship_method in MAPPED
        and bool(order.address.get("zip"))
        and all(sku in skus for sku, _ in order.lines)
    )


class ScriptedDay:
    def __init__(self, world: World, profile: Profile, seed: int, record: DayRecord) -> None:
        self.world = world
        self.profile = profile
        self.record = record
        self.rng = random.Random(f"chaos-day:{seed}")
        self.traffic = Traffic(profile.skus, seed)
        self.skus = [sku_name(i) for i in range(profile.skus)]
        planned = OrderDay(profile.orders * 2, profile.skus, seed).planned
        self.orders = [p for p in planned if _plain(p, set(self.skus))][: profile.orders]
        self.waves: list[tuple[float, list[PlannedOrder]]] = []
        size = max(1, -(-len(self.orders) // WAVES))
        for n, start in enumerate(range(0, len(self.orders), size)):
            at = profile.day_s * (0.05 + 0.6 * n / WAVES)
            self.waves.append((at, self.orders[start : start + size]))
        self._created_at: dict[str, float] = {}
        # Shopify's orders (route clarus): half as many as the IMS's, in the same waves.
        self.shop: ShopOrders | None = None
        if world.shopify_url is not None:
            self.shop = ShopOrders(self.http, world.shopify_url, self.skus, seed)
            self.shop.record = record.shop

    @property
    def http(self) -> httpx.Client:
        return self.world.http

    def prepare(self) -> None:
        """The IMS knows every SKU, and so does the Shopify store (one product per SKU, stocked at
        its first location with nothing); the warehouse receives each one before the day starts."""
        items = [{"itemId": sku} for sku in self.skus]
        self.http.post(f"{self.world.ims_url}/_control/items", json={"items": items}).raise_for_status()
        if self.world.shopify_url is not None:
            for sku in self.skus:
                product = {"title": f"Product {sku}", "variants": [{"sku": sku}]}
                self._ok(self.http.post(f"{self.world.shopify_url}/_control/products", json=product))
        if self.shop is not None:
            self.shop.subscribe(self.world.hub.url)
        self._move(list(self.traffic.initial_receipts()))

    def _move(self, movements: list[Movement]) -> None:
        for start in range(0, len(movements), 500):
            chunk = movements[start : start + 500]
            response = self.http.post(
                f"{self.world.clarus_url}/_control/movements", json={"movements": chunk}
            )
            response.raise_for_status()
            self.record.movements += len(chunk)

    def run(self, started_at: float) -> None:
        """Drive the day until `day_s` has passed since `started_at`."""
        waves: Iterator[tuple[float, list[PlannedOrder]]] = iter(self.waves)
        next_wave = next(waves, None)
        owed = 0.0
        while (now := time.monotonic() - started_at) < self.profile.day_s:
            rate = self.profile.movements_per_s * (FLOOD_FACTOR if self.world.flood.is_set() else 1)
            owed += rate * TICK_S
            count, owed = int(owed), owed - int(owed)
            self._move([self.traffic.next() for _ in range(count)])
            if next_wave is not None and now >= next_wave[0]:
                self._create(next_wave[1])
                self._change_some(next_wave[1])
                next_wave = next(waves, None)
            self._despatch_ready()
            # Pacing the day's traffic to the clock, not waiting for work.
            time.sleep(max(0.0, started_at + now + TICK_S - time.monotonic()))
        for _, wave in ([next_wave] if next_wave else []) + list(waves):
            self._create(wave)

    def _create(self, wave: list[PlannedOrder]) -> None:
        self.record.orders.update(create_in_ims(self.http, self.world.ims_url, wave))
        self._created_at.update({p.reference: time.monotonic() for p in wave})
        if self.shop is not None:
            placed = self.shop.place(max(1, len(wave) // 2))
            self._created_at.update({reference: time.monotonic() for reference in placed})

    def _change_some(self, wave: list[PlannedOrder]) -> None:
        """The IMS cancels one order in ten and edits another one in ten, soon after they were made,
        often while the hub is still sending them."""
        for p in wave:
            roll = self.rng.random()
            ims_id = self.record.orders[p.reference]
            if roll < 0.1:
                self._ok(self.http.post(f"{self.world.ims_url}/_control/sales_orders/{ims_id}/cancel"))
                self.record.cancelled.add(p.reference)
            elif roll < 0.2:
                body = {"lines": [{"line": 1, "quantity": self.rng.randint(1, 6)}]}
                self._ok(self.http.patch(f"{self.world.ims_url}/_control/sales_orders/{ims_id}", json=body))
                self.record.edited.add(p.reference)

    @staticmethod
    def _ok(response: httpx.Response) -> None:
        response.raise_for_status()

    def _despatch_ready(self) -> None:
        """Ship orders that have been in the warehouse a while and that nobody changed (a change
        after despatch is another story, with its own tests)."""
        now = time.monotonic()
        shop = self.record.shop
        changed = self.record.cancelled | self.record.edited | self.record.despatched
        changed |= shop.cancelled | shop.edited
        due = {r for r, at in self._created_at.items() if now - at >= DESPATCH_AFTER_S and r not in changed}
        if not due:
            return
        in_wms: dict[str, Any] = self.http.get(f"{self.world.clarus_url}/_control/orders").json()["orders"]
        ready = {r for r in due if r in in_wms and in_wms[r]["status"] in ("received", "released")}
        if ready:
            despatch_orders(self.http, self.world.clarus_url, self.rng.randrange(1 << 30), only=ready)
            self.record.despatched |= ready
