"""NetSuite-shaped IMS client: SuiteQL reads and idempotent inventory adjustments.

NetSuite has no "set quantity" call (../shared/reference/netsuite.md): the hub reads the current
on-hand figure and posts the difference as an inventory adjustment upserted by external id
(`PUT /inventoryAdjustment/eid:{externalId}`), so a retry replaces rather than repeats it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.http import RateLimiter, parse_retry_after, send
from stockbridge.connectors.shapes import expect_shape, json_object

SYSTEM = "ims"
SUITEQL_PAGE = 1000  # NetSuite's maximum page size for SuiteQL


@dataclass(frozen=True, slots=True)
class ItemRecord:
    item_id: str
    sku: str
    is_inactive: bool
    last_modified: str | None
    item_type: str = "InvtPart"


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
    ) -> None:
        self._timeout_s = timeout_s
        self._limiter = limiter
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/services/rest",
            auth=auth,
            timeout=timeout_s,
            headers={
                "Accept": "application/json",
                # Unknown property names become errors instead of being silently ignored.
                "X-NetSuite-PropertyNameValidation": "error",
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (through the limiter when there is one); a refusal raises."""
        if self._limiter is None:
            return await self._request(method, path, **kwargs)
        return await self._limiter.run(lambda: self._request(method, path, **kwargs))

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        request = self._client.build_request(method, path, **kwargs)
        response = await send(self._client, SYSTEM, request, deadline_s=self._timeout_s)
        if response.status_code < 300:
            return response
        raise translate_error(response)

    async def suiteql_page(
        self, query: str, offset: int = 0, limit: int = SUITEQL_PAGE
    ) -> tuple[list[dict[str, Any]], bool]:
        response = await self.request(
            "POST",
            "/query/v1/suiteql",
            params={"limit": limit, "offset": offset},
            json={"q": query},
            headers={"Prefer": "transient"},
        )
        body = json_object(SYSTEM, "SuiteQL", response)
        with expect_shape(SYSTEM, "SuiteQL"):
            items = [{k: v for k, v in row.items() if k != "links"} for row in body.get("items", [])]
            return items, bool(body.get("hasMore", False))

    async def suiteql(self, query: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page, has_more = await self.suiteql_page(query, offset)
            rows.extend(page)
            if not has_more or not page:
                return rows
            offset += len(page)

    async def inventory_items(self, skus: Sequence[str] | None = None) -> list[ItemRecord]:
        """Inventory and kit items, all of them or those whose `itemId` is in `skus`."""
        query = (
            "SELECT id, itemid, isinactive, lastmodifieddate, itemtype FROM item "
            "WHERE itemtype IN ('InvtPart', 'Kit')"
        )
        if skus:
            query += f" AND itemid IN ({', '.join(_quote(s) for s in skus)})"
        query += " ORDER BY id"
        rows = await self.suiteql(query)
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
    ) -> str | None:
        """Create or replace the adjustment with this external id; returns the record's URL."""
        body = {
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
        response = await self.request("PUT", f"/record/v1/inventoryAdjustment/eid:{external_id}", json=body)
        location: str | None = response.headers.get("location")
        return location


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def translate_error(response: httpx.Response) -> Exception:
    """A NetSuite error body (`o:errorDetails`) as one of the hub's connector errors."""
    code: str | None = None
    path: str | None = None
    detail = response.text[:300]
    try:
        body = response.json()
        details = body.get("o:errorDetails") or [{}]
        detail = str(details[0].get("detail") or body.get("title") or detail)
        code = details[0].get("o:errorCode") or body.get("o:errorCode")
        path = details[0].get("o:errorPath")
    except (ValueError, AttributeError):
        pass
    status = response.status_code
    message = f"{status} {code or ''} {detail}".strip()
    if status == 429:
        return RateLimitedError(
            SYSTEM, message, status=status, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if status >= 500 or status == 408:
        return RetriableError(
            SYSTEM, message, status=status, retry_after=parse_retry_after(response.headers.get("retry-after"))
        )
    if status in (401, 403):
        return AuthenticationError(SYSTEM, message, status=status)
    if status == 404:
        return NotFoundError(SYSTEM, message, status=status, code=code, path=path)
    return RejectedError(SYSTEM, message, status=status, code=code, path=path)
