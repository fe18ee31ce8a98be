"""The store's in-memory state: locations, products, variants, inventory items and levels, orders.

Inventory follows Shopify's quantity names: `on_hand` is not stored but is the sum of `available`
and the other on-hand states (`committed`, `reserved`, `damaged`, `quality_control`,
`safety_stock`); `incoming` is not on hand. An order commits stock (available down, committed up), a
fulfilment takes committed (and so on hand) down, a cancellation gives commitments back to available.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

ON_HAND_STATES = ("available", "committed", "reserved", "damaged", "quality_control", "safety_stock")
QUANTITY_NAMES = (*ON_HAND_STATES, "incoming", "on_hand")


@dataclass
class Location:
    id: int
    name: str


@dataclass
class Product:
    id: int
    title: str
    variant_ids: list[int] = field(default_factory=list)


@dataclass
class Variant:
    id: int
    product_id: int
    sku: str
    title: str
    inventory_item_id: int


@dataclass
class InventoryItem:
    id: int
    variant_id: int
    sku: str
    tracked: bool = True


@dataclass
class Level:
    id: int
    item_id: int
    location_id: int
    created_at: datetime
    updated_at: datetime
    quantities: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*ON_HAND_STATES, "incoming"), 0)
    )

    def get(self, name: str) -> int:
        if name == "on_hand":
            return sum(self.quantities[state] for state in ON_HAND_STATES)
        return self.quantities[name]


@dataclass
class AppliedSet:
    """One quantity changed by inventorySetQuantities (the oracle's log, with its time)."""

    at: datetime
    item_id: int
    location_id: int
    sku: str
    name: str
    before: int
    after: int
    idempotency_key: str | None
    reference_document_uri: str | None


class Catalog:
    """Locations, products, variants, inventory items and levels."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._ids = count(1)
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.items: dict[int, InventoryItem] = {}
        self.levels: dict[tuple[int, int], Level] = {}
        self.by_sku: dict[str, int] = {}  # SKU, case-folded as Shopify's search matches -> variant id
        self.applied: list[AppliedSet] = []
        self.add_location("Shop location")

    def next_id(self) -> int:
        return next(self._ids)

    def add_location(self, name: str) -> Location:
        location = Location(len(self.locations) + 1, name)  # the first one is Location/1, as promised
        self.locations[location.id] = location
        return location

    def add_product(self, title: str, variants: list[dict[str, Any]]) -> Product:
        product = Product(self.next_id(), title)
        self.products[product.id] = product
        for spec in variants:
            sku = str(spec["sku"])
            if self.variant_by_sku(sku) is not None:
                raise ValueError(f"SKU {sku!r} already exists")
            variant = Variant(self.next_id(), product.id, sku, str(spec.get("title", sku)), 0)
            item = InventoryItem(self.next_id(), variant.id, sku, bool(spec.get("tracked", True)))
            variant.inventory_item_id = item.id
            self.variants[variant.id] = variant
            self.by_sku[sku.casefold()] = variant.id
            self.items[item.id] = item
            product.variant_ids.append(variant.id)
            for location_id, available in spec.get("inventory", {}).items():
                self.stock(item.id, location_id)["available"] = int(available)
        return product

    def variant_by_sku(self, sku: str) -> Variant | None:
        variant_id = self.by_sku.get(sku.casefold())
        return None if variant_id is None else self.variants[variant_id]

    def stock(self, item_id: int, location_id: int) -> dict[str, int]:
        """The quantities of an item at a location, stocking it there first if it is not yet."""
        if location_id not in self.locations:
            raise ValueError(f"unknown location {location_id}")
        key = (item_id, location_id)
        if key not in self.levels:
            now = self.clock()
            self.levels[key] = Level(self.next_id(), item_id, location_id, now, now)
        level = self.levels[key]
        level.updated_at = self.clock()
        return level.quantities

    def move(self, item_id: int, location_id: int, **deltas: int) -> None:
        quantities = self.stock(item_id, location_id)
        for name, delta in deltas.items():
            quantities[name] += delta

    def item_levels(self, item_id: int) -> Iterator[Level]:
        return (level for (item, _), level in sorted(self.levels.items()) if item == item_id)
