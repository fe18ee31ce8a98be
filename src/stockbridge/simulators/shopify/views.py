"""GraphQL objects for the catalogue and inventory, read from the state as the query walks them.

graphql-core's default resolver reads an attribute named like the field and calls it with the
field's arguments when it is a method, so each view exposes Shopify's (camelCase) field names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import GraphQLResolveInfo

from .connections import connection, matches, parse_search
from .ids import gid, level_gid, parse_gid
from .inventory import Change, SetResult
from .state import QUANTITY_NAMES, Catalog, InventoryItem, Level, Location, Product, Variant

Info = GraphQLResolveInfo


def stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def location_view(location: Location) -> dict[str, Any]:
    return {"id": gid("Location", location.id), "name": location.name, "isActive": True}


@dataclass
class ProductView:
    catalog: Catalog
    product: Product

    @property
    def id(self) -> str:
        return gid("Product", self.product.id)

    @property
    def title(self) -> str:
        return self.product.title

    def variants(self, info: Info, first: int | None = None, after: str | None = None) -> dict[str, Any]:
        variants = [self.catalog.variants[v] for v in self.product.variant_ids]
        return connection(variants, lambda v: [v.id], first, after, lambda v: VariantView(self.catalog, v))


@dataclass
class VariantView:
    catalog: Catalog
    variant: Variant

    @property
    def id(self) -> str:
        return gid("ProductVariant", self.variant.id)

    @property
    def sku(self) -> str:
        return self.variant.sku

    @property
    def title(self) -> str:
        return self.variant.title

    @property
    def displayName(self) -> str:
        return f"{self.catalog.products[self.variant.product_id].title} - {self.variant.title}"

    @property
    def inventoryQuantity(self) -> int:
        return sum(
            level.get("available") for level in self.catalog.item_levels(self.variant.inventory_item_id)
        )

    @property
    def product(self) -> ProductView:
        return ProductView(self.catalog, self.catalog.products[self.variant.product_id])

    @property
    def inventoryItem(self) -> ItemView:
        return ItemView(self.catalog, self.catalog.items[self.variant.inventory_item_id])


@dataclass
class ItemView:
    catalog: Catalog
    item: InventoryItem

    @property
    def id(self) -> str:
        return gid("InventoryItem", self.item.id)

    @property
    def sku(self) -> str:
        return self.item.sku

    @property
    def tracked(self) -> bool:
        return self.item.tracked

    @property
    def variant(self) -> VariantView:
        return VariantView(self.catalog, self.catalog.variants[self.item.variant_id])

    def inventoryLevel(self, info: Info, locationId: str) -> LevelView | None:
        level = self.catalog.levels.get((self.item.id, parse_gid(locationId, "Location") or 0))
        return None if level is None else LevelView(self.catalog, level)

    def inventoryLevels(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> dict[str, Any]:
        levels = list(self.catalog.item_levels(self.item.id))
        return connection(levels, lambda lv: [lv.id], first, after, lambda lv: LevelView(self.catalog, lv))


@dataclass
class LevelView:
    catalog: Catalog
    level: Level

    @property
    def id(self) -> str:
        return level_gid(self.level.id, self.level.item_id)

    @property
    def createdAt(self) -> str | None:
        return stamp(self.level.created_at)

    @property
    def updatedAt(self) -> str | None:
        return stamp(self.level.updated_at)

    @property
    def item(self) -> ItemView:
        return ItemView(self.catalog, self.catalog.items[self.level.item_id])

    @property
    def location(self) -> dict[str, Any]:
        return location_view(self.catalog.locations[self.level.location_id])

    def quantities(self, info: Info, names: list[str]) -> list[dict[str, Any]]:
        unknown = [name for name in names if name not in QUANTITY_NAMES]
        if unknown:
            raise ValueError(
                f"Invalid quantity names: {', '.join(unknown)}. Valid names: {', '.join(QUANTITY_NAMES)}"
            )
        return [
            {
                "id": f"{gid('InventoryQuantity', self.level.id)}?inventory_item_id={self.level.item_id}"
                f"&name={n}",
                "name": n,
                "quantity": self.level.get(n),
                "updatedAt": stamp(self.level.updated_at),
            }
            for n in names
        ]


@dataclass
class AdjustmentGroupView:
    catalog: Catalog
    result: SetResult

    @property
    def id(self) -> str:
        return gid("InventoryAdjustmentGroup", self.result.group_id or 0)

    @property
    def createdAt(self) -> str | None:
        return stamp(self.result.created_at)

    @property
    def reason(self) -> str:
        return self.result.reason

    @property
    def referenceDocumentUri(self) -> str | None:
        return self.result.reference_document_uri

    def changes(
        self,
        info: Info,
        inventoryItemIds: list[str] | None = None,
        locationIds: list[str] | None = None,
        quantityNames: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        def wanted(change: Change) -> bool:
            return (
                (inventoryItemIds is None or gid("InventoryItem", change.item_id) in inventoryItemIds)
                and (locationIds is None or gid("Location", change.location_id) in locationIds)
                and (quantityNames is None or change.name in quantityNames)
            )

        return [
            {
                "name": c.name,
                "delta": c.delta,
                "quantityAfterChange": c.quantity_after,
                "ledgerDocumentUri": self.result.reference_document_uri,
                "item": ItemView(self.catalog, self.catalog.items[c.item_id]),
                "location": location_view(self.catalog.locations[c.location_id]),
            }
            for c in self.result.changes
            if wanted(c)
        ]


def variant_fields(catalog: Catalog, variant: Variant) -> dict[str, Any]:
    """What a `productVariants(query:)` search can filter on."""
    return {
        "sku": variant.sku,
        "id": str(variant.id),
        "product_id": str(variant.product_id),
        "title": variant.title,
    }


def search_variants(catalog: Catalog, query: str | None) -> list[Variant]:
    search = parse_search(query)
    if search and all(len(terms) == 1 and terms[0].field == "sku" and terms[0].op == "=" for terms in search):
        # The hub's usual question (`sku:"A" OR sku:"B" ...`), answered from the index.
        hits = (catalog.variant_by_sku(terms[0].value) for terms in search)
        return sorted({v.id: v for v in hits if v is not None}.values(), key=lambda v: v.id)
    known = ("sku", "id", "product_id", "title")
    return [v for v in catalog.variants.values() if matches(search, variant_fields(catalog, v).get, known)]
