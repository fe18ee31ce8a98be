"""The query and mutation roots: where each top-level field finds its objects in the state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, get_directive_values

from .connections import connection, matches, parse_search
from .ids import gid, parse_gid
from .inventory import ChangeFromRequired, InputTooLarge
from .settings import STRICT_FROM
from .views import (
    AdjustmentGroupView,
    ItemView,
    LevelView,
    LocationView,
    ProductView,
    VariantView,
    location_view,
    search_variants,
)

if TYPE_CHECKING:
    from .app import ShopifySimulator

Info = GraphQLResolveInfo


@dataclass
class RequestContext:
    simulator: ShopifySimulator
    version: str

    @property
    def strict(self) -> bool:
        return self.version >= STRICT_FROM


class QueryRoot:
    def __init__(self, simulator: ShopifySimulator) -> None:
        self.sim = simulator
        self.catalog = simulator.catalog

    def shop(self, info: Info) -> dict[str, Any]:
        s = self.sim.settings
        return {"id": gid("Shop", 1), "name": s.shop_name, "myshopifyDomain": s.shop_domain}

    def location(self, info: Info, id: str) -> LocationView | None:
        location = self.catalog.locations.get(parse_gid(id, "Location") or 0)
        return None if location is None else location_view(self.catalog, location)

    def locations(
        self, info: Info, first: int | None = None, after: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        search = parse_search(query)
        found = [
            lo for lo in self.catalog.locations.values() if matches(search, {"name": lo.name}.get, ("name",))
        ]
        return connection(found, lambda lo: [lo.id], first, after, lambda lo: location_view(self.catalog, lo))

    def product(self, info: Info, id: str) -> ProductView | None:
        product = self.catalog.products.get(parse_gid(id, "Product") or 0)
        return None if product is None else ProductView(self.catalog, product)

    def products(
        self, info: Info, first: int | None = None, after: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        search = parse_search(query)
        found = [
            p for p in self.catalog.products.values() if matches(search, {"title": p.title}.get, ("title",))
        ]
        return connection(found, lambda p: [p.id], first, after, lambda p: ProductView(self.catalog, p))

    def productVariant(self, info: Info, id: str) -> VariantView | None:
        variant = self.catalog.variants.get(parse_gid(id, "ProductVariant") or 0)
        return None if variant is None else VariantView(self.catalog, variant)

    def productVariants(
        self, info: Info, first: int | None = None, after: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        found = search_variants(self.catalog, query)
        return connection(found, lambda v: [v.id], first, after, lambda v: VariantView(self.catalog, v))

    def inventoryItem(self, info: Info, id: str) -> ItemView | None:
        item = self.catalog.items.get(parse_gid(id, "InventoryItem") or 0)
        return None if item is None else ItemView(self.catalog, item)

    def inventoryItems(
        self, info: Info, first: int | None = None, after: str | None = None, query: str | None = None
    ) -> dict[str, Any]:
        search = parse_search(query)
        items = [
            i
            for i in self.catalog.items.values()
            if matches(search, {"sku": i.sku, "id": str(i.id)}.get, ("sku", "id"))
        ]
        return connection(items, lambda i: [i.id], first, after, lambda i: ItemView(self.catalog, i))

    def inventoryLevel(self, info: Info, id: str) -> LevelView | None:
        number = parse_gid(id, "InventoryLevel")
        level = next((lv for lv in self.catalog.levels.values() if lv.id == number), None)
        return None if level is None else LevelView(self.catalog, level)

    # Orders live in order_views; the root only routes to them.
    def order(self, info: Info, id: str) -> Any:
        return self.sim.order_queries.order(info, id)

    def orders(self, info: Info, **arguments: Any) -> dict[str, Any]:
        return self.sim.order_queries.orders(info, **arguments)

    def fulfillmentOrder(self, info: Info, id: str) -> Any:
        return self.sim.order_queries.fulfillmentOrder(info, id)


class MutationRoot:
    def __init__(self, simulator: ShopifySimulator) -> None:
        self.sim = simulator

    def inventorySetQuantities(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context: RequestContext = info.context
        key = idempotency_key(info)
        if key is None and context.strict:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation from API version 2026-04.",
                extensions={"code": "BAD_REQUEST"},
            )
        if key is not None and key in self.sim.setter.by_key:
            self.sim.stats.idempotent_replays += 1
        try:
            result = self.sim.setter.set_quantities(
                input, key=key, strict=context.strict, max_quantities=self.sim.max_quantities
            )
        except InputTooLarge as error:
            raise GraphQLError(str(error), extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"}) from None
        except ChangeFromRequired as error:
            raise GraphQLError(str(error), extensions={"code": "BAD_REQUEST"}) from None
        group = None if result.group_id is None else AdjustmentGroupView(self.sim.catalog, result)
        errors = [{"field": e.field, "message": e.message, "code": e.code} for e in result.user_errors]
        return {"inventoryAdjustmentGroup": group, "userErrors": errors}

    def fulfillmentCreate(self, info: Info, **arguments: Any) -> dict[str, Any]:
        return self.sim.order_mutations.fulfillmentCreate(info, **arguments)

    def webhookSubscriptionCreate(self, info: Info, **arguments: Any) -> dict[str, Any]:
        return self.sim.order_mutations.webhookSubscriptionCreate(info, **arguments)


def idempotency_key(info: Info) -> str | None:
    directive = info.schema.get_directive("idempotent")
    assert directive is not None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return None if values is None else str(values["key"])
