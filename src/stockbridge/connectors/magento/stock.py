"""Magento as a stock channel (`flows/ports.StockChannel`): MSI source items, per SKU and source.

A "location" of this channel is an MSI source code. Reading: `GET /V1/inventory/source-items` with
`sku in (...)` and `source_code eq <source>`. Writing: `POST /V1/inventory/source-items` with
`{"sourceItems": [{"sku", "source_code", "quantity", "status"}]}`, many per call, each an absolute
quantity (status 1 "in stock" while above zero), so a batch sent twice sets the same figures twice:
applied once in effect. Magento saves the call's items all or none. It has no compare-and-set, so
`FigureLine.expected` is not checked (a merchant's change between the read and the push is
overwritten, as the hub owns the figure); Magento subtracts its own reservations (unshipped orders)
from the source quantity to give the salable quantity.
"""

from __future__ import annotations

from collections.abc import Sequence

from stockbridge.connectors.magento.client import MagentoClient
from stockbridge.connectors.shapes import expect_shape
from stockbridge.flows.ports import ChannelFigure, FigureLine

SKU_BATCH = 100  # SKUs per read: keeps the URL short
IN_STOCK, OUT_OF_STOCK = 1, 0


class MagentoStock:
    compare_and_set = False  # no compare-and-set in MSI: the flow reads before every push

    def __init__(self, client: MagentoClient, max_lines_per_call: int = 200) -> None:
        self.name = client.system  # the channel's key: every error the client raises names it too
        self.max_lines_per_call = max_lines_per_call
        self._client = client

    def budget_wait(self) -> float:
        return self._client.budget_wait()

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        wanted = list(dict.fromkeys(skus))
        # `in` splits its value on commas: a SKU holding one is asked for on its own, with `eq`.
        plain = [s for s in wanted if "," not in s]
        groups = [plain[i : i + SKU_BATCH] for i in range(0, len(plain), SKU_BATCH)]
        figures: dict[str, ChannelFigure] = {}
        for batch in groups:
            figures.update(await self._read(location, (("sku", ",".join(batch), "in"),), set(batch)))
        for sku in (s for s in wanted if "," in s):
            figures.update(await self._read(location, (("sku", sku, "eq"),), {sku}))
        return figures

    async def _read(
        self, location: str, condition: tuple[tuple[str, str, str], ...], wanted: set[str]
    ) -> dict[str, ChannelFigure]:
        records = await self._client.search(
            "source items", "/inventory/source-items", [condition, [("source_code", location, "eq")]]
        )
        with expect_shape(self._client.system, "source items"):
            return {
                str(r["sku"]): ChannelFigure(round(float(r["quantity"])))
                for r in records
                if str(r["sku"]) in wanted and str(r["source_code"]) == location
            }

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        """`batch_id` is not sent: absolute quantities are what make a repeat harmless here."""
        if not lines:
            return
        items = [
            {
                "sku": line.sku,
                "source_code": location,
                "quantity": max(0, line.quantity),
                "status": IN_STOCK if line.quantity > 0 else OUT_OF_STOCK,
            }
            for line in lines
        ]
        await self._client.post("source items", "/inventory/source-items", {"sourceItems": items})
