"""NetSuite-shaped IMS client: SuiteQL reads and idempotent inventory adjustments.

NetSuite has no "set quantity" call (../shared/reference/netsuite.md): the hub reads the current
on-hand figure and posts the difference as an inventory adjustment upserted by external id
(`PUT /inventoryAdjustment/eid:{externalId}`), so a retry replaces rather than repeats it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest import CallStats, ErrorBody, OffsetPaging, PageRequest, RestClient
from stockbridge.connectors.shapes import expect_shape
from stockbridge.domain.product_master import ItemRecord

SYSTEM = "ims"
SUITEQL_PAGE = 1000  # NetSuite's maximum page size for SuiteQL


@dataclass(frozen=True, slots=True)
class AdjustmentLine:
    item_id: str
    adjust_qty_by: int
    memo: str


class NetSuiteClient:
    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        timeout_s: float = 30.0,
        limiter: RateLimiter | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self._rest = RestClient(
            SYSTEM,
            base_url.rstrip("/") + "/services/rest",
            auth=auth,
            headers={
                "Accept": "application/json",
                # Unknown property names become errors instead of being silently ignored.
                "X-NetSuite-PropertyNameValidation": "error",
            },
            timeout_s=timeout_s,
            pacer=limiter,
            read_error=read_error,
            stats=stats,
        )

    async def aclose(self) -> None:
        await self._rest.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (through the limiter when there is one); a refusal raises."""
        return await self._rest.request(method, path, **kwargs)

    async def suiteql_page(
        self, query: str, offset: int = 0, limit: int = SUITEQL_PAGE
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of a SuiteQL query: its rows (without their `links`) and `hasMore`."""
        page = await self._rest.page("SuiteQL", OffsetPaging(limit), _suiteql_request(query), offset)
        with expect_shape(SYSTEM, "SuiteQL"):
            items = [{k: v for k, v in row.items() if k != "links"} for row in page.records]
            return items, bool(page.body.get("hasMore", False))

    async def suiteql(self, query: str, *, page_size: int = SUITEQL_PAGE) -> list[dict[str, Any]]:
        """Every row of a SuiteQL query, page after page."""
        rows: list[dict[str, Any]] = []
        paging = OffsetPaging(page_size)
        async for page in self._rest.pages("SuiteQL", paging, _suiteql_request(query)):
            with expect_shape(SYSTEM, "SuiteQL"):
                rows.extend({k: v for k, v in row.items() if k != "links"} for row in page.records)
        return rows

    async def inventory_items(self, skus: Sequence[str] | None = None) -> list[ItemRecord]:
        """Inventory and kit items, all of them or those whose `itemId` is in `skus`."""
        return [record async for page in self.inventory_item_pages(skus) for record in page]

    async def inventory_item_pages(
        self, skus: Sequence[str] | None = None
    ) -> AsyncIterator[list[ItemRecord]]:
        """The same items a SuiteQL page at a time, so a catalogue of a million is never one list.

        The whole list is read by internal id (`id > the last one read`), not by offset: SuiteQL
        over REST returns at most 100,000 rows of one query, and a page by id costs the same at
        the millionth item as at the first."""
        base = (
            "SELECT id, itemid, isinactive, lastmodifieddate, itemtype FROM item "
            "WHERE itemtype IN ('InvtPart', 'Kit')"
        )
        if skus:
            query = f"{base} AND itemid IN ({', '.join(_quote(s) for s in skus)}) ORDER BY id"
            async for page in self._rest.pages(
                "SuiteQL", OffsetPaging(SUITEQL_PAGE), _suiteql_request(query)
            ):
                yield _item_records(page.records)
            return
        after = -1
        while True:
            rows, more = await self.suiteql_page(f"{base} AND id > {after} ORDER BY id")
            records = _item_records(rows)
            if records:
                yield records
                with expect_shape(SYSTEM, "items"):
                    after = max(int(r.item_id) for r in records)
            if not more or not records:
                return

    async def on_hand(self, location_id: str, item_ids: Sequence[str]) -> dict[str, int]:
        """Current on-hand per item at one location; an item with no stock row has 0."""
        figures = dict.fromkeys(item_ids, 0)
        if not item_ids:
            return figures
        query = (
            "SELECT item, quantityonhand FROM inventoryitemlocations "
            f"WHERE location = {int(location_id)} AND item IN ({', '.join(str(int(i)) for i in item_ids)})"
        )
        rows = await self.suiteql(query)
        with expect_shape(SYSTEM, "on-hand figures"):
            for row in rows:
                figures[str(row["item"])] = round(float(row.get("quantityonhand") or 0))
        return figures

    async def upsert_inventory_adjustment(
        self,
        external_id: str,
        *,
        account_id: str,
        location_id: str,
        lines: Sequence[AdjustmentLine],
        memo: str,
        tran_date: str | None = None,
    ) -> str | None:
        """Create or replace the adjustment with this external id; returns the record's URL.
        `tran_date` (YYYY-MM-DD) is the posting date; default the IMS's today."""
        body: dict[str, Any] = {
            "externalId": external_id,
            "account": {"id": account_id},
            "adjLocation": {"id": location_id},
            "memo": memo,
            "inventory": {
                "items": [
                    {
                        "item": {"id": line.item_id},
                        "location": {"id": location_id},
                        "adjustQtyBy": line.adjust_qty_by,
                        "memo": line.memo,
                    }
                    for line in lines
                ]
            },
        }
        if tran_date is not None:
            body["tranDate"] = tran_date
        response = await self.request("PUT", f"/record/v1/inventoryAdjustment/eid:{external_id}", json=body)
        location: str | None = response.headers.get("location")
        return location


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _suiteql_request(query: str) -> PageRequest:
    return PageRequest("POST", "/query/v1/suiteql", json={"q": query}, headers={"Prefer": "transient"})


def _item_records(rows: Sequence[dict[str, Any]]) -> list[ItemRecord]:
    with expect_shape(SYSTEM, "items"):
        return [
            ItemRecord(
                str(r["id"]),
                str(r["itemid"]),
                str(r["isinactive"]).upper() in ("T", "TRUE"),
                r.get("lastmodifieddate"),
                str(r.get("itemtype") or "InvtPart"),
            )
            for r in rows
        ]


def read_error(response: httpx.Response) -> ErrorBody:
    """A NetSuite error body: the first of `o:errorDetails` (detail, code, path), else its title."""
    body = response.json()
    details = body.get("o:errorDetails") or [{}]
    first = details[0]
    return ErrorBody(
        str(first.get("detail") or body.get("title") or response.text[:300]),
        code=first.get("o:errorCode") or body.get("o:errorCode"),
        path=first.get("o:errorPath"),
    )
