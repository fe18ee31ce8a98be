"""The IMS as the books of the daily finance batch (`flows.edge_ports.FinancePosting`).

Each batch is one inventory adjustment (`account` = the reasons' account, `adjLocation` and every
line at the batch's location, `tranDate` = its business day, the control total in `memo`), upserted
by external id = the batch id with `PUT /inventoryAdjustment/eid:{id}`: posted again after a timeout
or a crash, it replaces itself and on hand moves once (../shared/reference/netsuite.md). The
read-back is `GET /inventoryAdjustment/eid:{id}?expandSubResources=true`, its lines mapped back from
item ids to SKUs.
"""

from __future__ import annotations

from typing import Any

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.netsuite.client import SYSTEM, AdjustmentLine, NetSuiteClient
from stockbridge.connectors.netsuite.stock import ItemDirectory
from stockbridge.connectors.shapes import expect_shape, json_object
from stockbridge.domain.finance import FinanceBatch, PostedAdjustment
from stockbridge.domain.product_master import ItemRecord


class ImsFinance:
    def __init__(self, client: NetSuiteClient, items: ItemDirectory) -> None:
        self._client = client
        self._items = items

    async def post_adjustment(self, batch: FinanceBatch) -> None:
        items = await self._items_of(batch)
        lines = []
        for index, line in enumerate(batch.lines):
            item = items.get(line.sku)
            if item is None:
                raise RejectedError(
                    SYSTEM,
                    f"no IMS item for SKU {line.sku}",
                    code="UNKNOWN_SKU",
                    path=f"inventory.items[{index}].item",
                )
            lines.append(AdjustmentLine(item.item_id, line.units, f"{line.reason} {line.sku} {line.units}"))
        await self._client.upsert_inventory_adjustment(
            batch.id,
            account_id=batch.account,
            location_id=batch.location,
            lines=lines,
            memo=batch.memo,
            tran_date=batch.business_date.isoformat(),
        )

    async def read_adjustment(self, batch: FinanceBatch) -> PostedAdjustment | None:
        try:
            response = await self._client.request(
                "GET",
                f"/record/v1/inventoryAdjustment/eid:{batch.id}",
                params={"expandSubResources": "true"},
            )
        except NotFoundError:
            return None
        body = json_object(SYSTEM, "inventory adjustment", response)
        sku_of = {item.item_id: sku for sku, item in (await self._items_of(batch)).items()}
        with expect_shape(SYSTEM, "inventory adjustment"):
            lines = tuple(_line(line, sku_of) for line in body["inventory"]["items"])
            return PostedAdjustment(
                str(body.get("externalId") or batch.id),
                str(body["account"]["id"]),
                str(body.get("memo") or ""),
                lines,
            )

    async def _items_of(self, batch: FinanceBatch) -> dict[str, ItemRecord]:
        return dict(await self._items.items_for(sorted({line.sku for line in batch.lines})))


def _line(line: Any, sku_of: dict[str, str]) -> tuple[str, int]:
    item_id = str(line["item"]["id"])
    # An item the batch does not name shows under its id: the read-back then differs from the batch.
    return sku_of.get(item_id, f"item:{item_id}"), round(float(line["adjustQtyBy"]))
