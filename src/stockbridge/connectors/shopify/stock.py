"""Shopify as a stock channel (`flows/ports.py` StockChannel): the `available` figure per location.

Reading: `productVariants(query: "sku:...")` finds each SKU's inventory item and, in the same call,
its level at the location (`inventoryLevel(locationId:) { quantities(names: ["available"]) }`;
`on_hand` instead when the channel is configured to set that).
Item ids are cached for the push. Writing: `inventorySetQuantities` sets absolute `available`
figures, every quantity with `changeFromQuantity` (mandatory from 2026-04; `FigureLine.expected`, or
null to skip the check) and the mutation with `@idempotent(key:)` (mandatory from 2026-04). A stale
`changeFromQuantity` fails the whole call with `CHANGE_FROM_QUANTITY_STALE`: `StaleFigureError`
names the SKUs and the flow re-reads and recomputes (decision 0019).

Since the store checks `changeFromQuantity` itself, the channel is `compare_and_set`: the flow sends
the figure it last set as `expected` and reads only what it has never set, or what the store called
stale (docs/decisions/0036). A read costs about 4 points a SKU, a set 10 points for 250 SKUs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

from stockbridge.connectors.errors import ConnectorError, RejectedError, RetriableError, StaleFigureError
from stockbridge.connectors.shapes import expect_shape
from stockbridge.connectors.shopify.client import SYSTEM, ShopifyClient, rejection, user_errors
from stockbridge.flows.ports import ChannelFigure, FigureLine

SKU_BATCH = 50  # SKUs per productVariants search: keeps the search string and the query cost modest
STALE = "CHANGE_FROM_QUANTITY_STALE"
# The first request with this key is still running at Shopify: ask again later, same key.
IN_PROGRESS = "IDEMPOTENCY_CONCURRENT_REQUEST"
_QUANTITY_INDEX = re.compile(r"^\d+$")

VARIANTS_BY_SKU = """
query VariantsBySku($query: String!, $first: Int!, $after: String, $location: ID!, $names: [String!]!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes {
      sku
      inventoryItem {
        id
        inventoryLevel(locationId: $location) {
          quantities(names: $names) { name quantity }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

SET_AVAILABLE = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    userErrors { code field message }
  }
}
"""


def sku_search(skus: Sequence[str]) -> str:
    """Shopify search syntax for any of these SKUs, each quoted (a SKU may hold spaces or colons)."""
    quoted = ('sku:"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"' for sku in skus)
    return " OR ".join(quoted)


def idempotency_key(batch_id: str, location: str, lines: Sequence[FigureLine]) -> str:
    """The batch id plus a digest of what it sets: the same batch sent again reuses the key (applied
    once), while a batch recomputed after a stale answer sends new figures under a new key (Shopify
    refuses a key reused with other parameters: IDEMPOTENCY_KEY_PARAMETER_MISMATCH)."""
    content = json.dumps([location, [[ln.sku, ln.quantity, ln.expected] for ln in lines]])
    return f"{batch_id}.{hashlib.sha256(content.encode()).hexdigest()[:12]}"


SETTABLE = ("available", "on_hand")  # the only quantity names Shopify lets a client set


class ShopifyStock:
    """`quantity_name` is the figure the channel reads and sets: `available` (the hub subtracts the
    store's own unshipped orders itself) or `on_hand` (Shopify subtracts its commitments: available
    = on hand - committed - reserved...)."""

    # The store refuses a stale `changeFromQuantity` (nothing applied): the flow need not read first.
    compare_and_set = True

    def __init__(
        self,
        client: ShopifyClient,
        name: str = "shopify",
        max_lines_per_call: int = 250,
        *,
        quantity_name: str = "available",
    ) -> None:
        if quantity_name not in SETTABLE:
            raise ValueError(f"quantity_name must be one of {SETTABLE}, not {quantity_name!r}")
        self.name = name
        self.max_lines_per_call = max_lines_per_call
        self.quantity_name = quantity_name
        self._client = client
        self._items: dict[str, str] = {}  # SKU → inventory item id

    def budget_wait(self) -> float:
        return self._client.budget_wait(self._client.expected_cost("SetAvailable"))

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        try:
            return await self._read_figures(location, skus)
        except ConnectorError as exc:
            as_channel(exc, self.name)
            raise

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        try:
            await self._push_figures(batch_id, location, lines)
        except ConnectorError as exc:
            as_channel(exc, self.name)
            raise

    async def _read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        figures: dict[str, ChannelFigure] = {}
        wanted = list(dict.fromkeys(skus))
        for start in range(0, len(wanted), SKU_BATCH):
            figures.update(await self._read_batch(location, wanted[start : start + SKU_BATCH]))
        return figures

    async def _read_batch(self, location: str, skus: list[str]) -> dict[str, ChannelFigure]:
        wanted, found = set(skus), dict[str, ChannelFigure]()
        variables: dict[str, Any] = {
            "query": sku_search(skus),
            "first": SKU_BATCH,
            "location": location,
            "names": [self.quantity_name],
        }
        seen: dict[str, int] = {}
        while True:
            data = await self._client.execute(
                "VariantsBySku", VARIANTS_BY_SKU, variables, cost=2 + 4 * SKU_BATCH
            )
            with expect_shape(SYSTEM, "productVariants"):
                page = data["productVariants"]
                for node in page["nodes"]:
                    sku = node.get("sku")
                    # Shopify's search matches loosely (prefixes, tokens): keep exact SKUs only.
                    if sku not in wanted or node.get("inventoryItem") is None:
                        continue
                    seen[sku] = seen.get(sku, 0) + 1
                    found[sku] = _figure(node["inventoryItem"], self.quantity_name)
                    self._items[sku] = str(node["inventoryItem"]["id"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                variables["after"] = page["pageInfo"]["endCursor"]
        for sku, count in seen.items():
            if count > 1:
                # Two variants share the SKU: setting one would be a guess. The flow blocks it.
                found[sku] = ChannelFigure(found[sku].quantity, pushable=False)
                self._items.pop(sku, None)
        return found

    async def _push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        if not lines:
            return
        missing = [line.sku for line in lines if line.sku not in self._items]
        if missing:
            await self._read_figures(location, missing)
        quantities = []
        for index, line in enumerate(lines):
            item = self._items.get(line.sku)
            if item is None:
                raise RejectedError(
                    SYSTEM,
                    f"SKU {line.sku} is not a variant in the store",
                    code="UNKNOWN_SKU",
                    path=f"lines[{index}]",
                )
            quantities.append(
                {
                    "inventoryItemId": item,
                    "locationId": location,
                    "quantity": line.quantity,
                    "changeFromQuantity": line.expected,
                }
            )
        variables = {
            "input": {
                "name": self.quantity_name,
                "reason": "correction",
                "referenceDocumentUri": f"stockbridge://batch/{batch_id}",
                "quantities": quantities,
            },
            "key": idempotency_key(batch_id, location, lines),
        }
        data = await self._client.execute("SetAvailable", SET_AVAILABLE, variables)
        with expect_shape(SYSTEM, "inventorySetQuantities"):
            payload = data["inventorySetQuantities"]
        errors = user_errors(payload, "inventorySetQuantities")
        if not errors:
            return
        stale = [e for e in errors if e.code == STALE]
        if stale:
            skus = tuple(dict.fromkeys(_stale_skus(stale, lines)))
            changed = f"{self.quantity_name} changed since read for {', '.join(skus)}"
            raise StaleFigureError(SYSTEM, changed, skus, code=STALE)
        if any(e.code == IN_PROGRESS for e in errors):
            raise RetriableError(SYSTEM, f"inventorySetQuantities: {IN_PROGRESS} for batch {batch_id}")
        line_index = _line_index(errors[0].field)
        path = f"lines[{line_index}]" if line_index is not None and line_index < len(lines) else None
        raise rejection(errors, "inventorySetQuantities", path=path)


def as_channel(error: ConnectorError, channel: str) -> ConnectorError:
    """The same error, its `system` the channel's name: a store configured as `shop_uk` fails as
    `shop_uk`, so connector health opens and clears `connector_failing` for that channel."""
    if error.system != channel:
        error.system = channel
        error.args = (f"{channel}: {error.message}", *error.args[1:])
    return error


def _figure(item: dict[str, Any], quantity_name: str) -> ChannelFigure:
    level = item.get("inventoryLevel")
    if level is None:
        # Not stocked at this location: Shopify refuses a set (ITEM_NOT_STOCKED_AT_LOCATION).
        return ChannelFigure(0, pushable=False)
    figure = [q["quantity"] for q in level["quantities"] if q["name"] == quantity_name]
    return ChannelFigure(int(figure[0]))


def _line_index(field: Sequence[str]) -> int | None:
    """The quantity a user error's field path points at: ["input", "quantities", "3", ...] → 3."""
    for before, part in itertools.pairwise(field):
        if before == "quantities" and _QUANTITY_INDEX.match(part):
            return int(part)
    return None


def _stale_skus(stale: Sequence[Any], lines: Sequence[FigureLine]) -> list[str]:
    """The SKUs whose changeFromQuantity was stale; every checked line when Shopify does not say."""
    indexes = [_line_index(error.field) for error in stale]
    if all(i is not None and i < len(lines) for i in indexes):
        return [lines[i].sku for i in indexes if i is not None]
    return [line.sku for line in lines if line.expected is not None]
