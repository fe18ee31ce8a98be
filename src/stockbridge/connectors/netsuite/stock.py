"""The IMS as a stock channel (`flows/ports.StockChannel`): its on-hand figure per location.

NetSuite has no "set quantity" call (../shared/reference/netsuite.md): a figure is set by posting
the difference from what was read (`quantity - expected`) as one inventory adjustment, upserted by
external id = the batch id, so a batch sent again after a timeout or a crash replaces itself in the
IMS instead of applying twice (docs/decisions/0004). An adjustment applies whole or not at all.

The hub's stock is keyed by the warehouse's SKU; the IMS's by its internal item id. An
`ItemDirectory` maps one to the other: by default the IMS's own item list, looked up by SKU in one
SuiteQL call; the worker gives it the hub's stored item list instead (kept by the item refresh, and
knowing the warehouse SKUs the product sync derived from IMS SKUs, e.g. `odd.sku-7` -> `ODDSKU-7`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.client import SYSTEM, AdjustmentLine, NetSuiteClient
from stockbridge.domain.product_master import ItemRecord
from stockbridge.flows.ports import ChannelFigure, FigureLine

ON_HAND_PAGE = 1000  # item ids per on-hand read: one SuiteQL page
CYCLE_CALLS = 2  # a push cycle's calls at least: the on-hand read and the adjustment
_ITEM_PATH = re.compile(r"inventory\.items\[(\d+)\](.*)")


class ItemDirectory(Protocol):
    async def items_for(self, skus: Sequence[str]) -> Mapping[str, ItemRecord]:
        """The IMS item of each warehouse SKU it knows; unknown SKUs are absent."""
        ...


class SuiteQLItems:
    """Items looked up in the IMS by SKU (`itemId`), one SuiteQL call per lookup."""

    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def items_for(self, skus: Sequence[str]) -> Mapping[str, ItemRecord]:
        if not skus:
            return {}
        records = await self._client.inventory_items(list(skus))
        return {r.sku: r for r in records}


class ImsStock:
    """`StockChannel` over the NetSuite REST API: reads on hand, posts adjustments."""

    # An adjustment is a delta computed from the figure read: it checks nothing, so the flow reads
    # before every push (one SuiteQL query per 1,000 items, docs/decisions/0004).
    compare_and_set = False

    def __init__(
        self,
        client: NetSuiteClient,
        limiter: RateLimiter,
        items: ItemDirectory,
        *,
        adjustment_account_id: str,
        name: str = SYSTEM,
        max_lines_per_call: int = 100,
    ) -> None:
        self.name = name
        self.max_lines_per_call = max_lines_per_call
        self._client = client
        self._limiter = limiter  # the client's own: asked only how long until a call could start
        self._items = items
        self._account_id = adjustment_account_id

    def budget_wait(self) -> float:
        # A push cycle reads the on hand (one SuiteQL call) and then posts the adjustment: it starts
        # once both could go back to back, so the adjustment never waits on the limiter after the
        # read (the figure read stays fresh, and changes meanwhile coalesce into this cycle).
        return self._limiter.wait_s(CYCLE_CALLS)

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        items = await self._items.items_for(skus)
        # An inactive item refuses adjustments: it is reported, not read.
        figures = {sku: ChannelFigure(0, pushable=False) for sku, i in items.items() if i.is_inactive}
        active = [(sku, i.item_id) for sku, i in items.items() if not i.is_inactive]
        for start in range(0, len(active), ON_HAND_PAGE):
            page = active[start : start + ON_HAND_PAGE]
            on_hand = await self._on_hand(location, [item_id for _, item_id in page])
            figures.update({sku: ChannelFigure(on_hand[item_id]) for sku, item_id in page})
        return figures

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        items = await self._items.items_for([line.sku for line in lines])
        for index, line in enumerate(lines):
            if line.sku not in items:
                raise RejectedError(
                    SYSTEM,
                    f"no IMS item for SKU {line.sku}",
                    code="UNKNOWN_SKU",
                    path=f"inventory.items[{index}].item",
                )
        unchecked = [items[line.sku].item_id for line in lines if line.expected is None]
        read = await self._on_hand(location, unchecked) if unchecked else {}
        adjustments: list[AdjustmentLine] = []
        line_of: list[int] = []  # adjustment index -> index in `lines`
        for index, line in enumerate(lines):
            item_id = items[line.sku].item_id
            delta = line.quantity - (read[item_id] if line.expected is None else line.expected)
            # NetSuite refuses a line that adjusts by zero: a figure already shown needs no line.
            if delta != 0:
                adjustments.append(AdjustmentLine(item_id, delta, _memo(line)))
                line_of.append(index)
        if not adjustments:
            return
        try:
            await self._client.upsert_inventory_adjustment(
                batch_id,
                account_id=self._account_id,
                location_id=location,
                lines=adjustments,
                memo=f"stockbridge stock sync ({len(adjustments)} items)",
            )
        except RejectedError as exc:
            raise _naming_the_line(exc, line_of) from exc

    async def _on_hand(self, location: str, item_ids: Sequence[str]) -> dict[str, int]:
        return await self._client.on_hand(location, item_ids)


def _naming_the_line(error: RejectedError, line_of: Sequence[int]) -> RejectedError:
    """NetSuite's `o:errorPath` counts the adjustment's lines; the port's caller counts its own."""
    match = _ITEM_PATH.match(error.path or "")
    if match is None or int(match.group(1)) >= len(line_of):
        return error
    path = f"inventory.items[{line_of[int(match.group(1))]}]{match.group(2)}"
    renamed = RejectedError(error.system, error.message, status=error.status, code=error.code, path=path)
    renamed.existing = error.existing
    return renamed


def _memo(line: FigureLine) -> str:
    # The absolute figure the line sets, and its version: the oracle and the chaos checks read it
    # back to tell a doubled adjustment from a replaced one (oracle/stock.py).
    version = "" if line.version is None else f" v{line.version}"
    return f"stockbridge ATS {line.quantity}{version}"
