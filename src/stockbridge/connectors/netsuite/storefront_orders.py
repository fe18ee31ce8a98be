"""Storefront orders into NetSuite (orders_route: ims), idempotent by external id.

NetSuite documents `PUT /salesOrder/eid:{externalId}` as an upsert, but a PUT replaces the record:
the lines would be renumbered, and the IMS flow diffs the warehouse order by line number. So: look
the order up by external id (`GET /salesOrder/eid:...`); if it is not there, `POST` it with that
external id (a retry after a lost answer is refused as a duplicate and looked up again); if it is,
`PATCH` its lines by line number (quantity changed, closed, or added). A cancellation closes every
line: REST has no cancel action, and a Pending Fulfillment order with every line closed is Closed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.netsuite.client import SYSTEM, NetSuiteClient
from stockbridge.connectors.shapes import expect_shape, json_object
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_routing import ImsOrderRequest, ImsOrderResult

_RECORD = "/record/v1/salesOrder"


class NetSuiteStorefrontOrders:
    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def put_storefront_order(self, request: ImsOrderRequest) -> ImsOrderResult:
        existing = await self._find(request.external_id)
        if existing is None:
            try:
                await self._client.request("POST", _RECORD, json=await self._create_body(request))
            except RejectedError as exc:
                if "external id already exists" not in str(exc):
                    raise
            existing = await self._find(request.external_id)
            if existing is None:
                raise RejectedError(SYSTEM, f"sales order {request.external_id} not found after create")
            # Created just now, in request order: line n of the IMS order is the n-th line sent.
            return ImsOrderResult(existing[0], _by_position(request, existing[1]))
        ims_id, lines = existing
        known = {line.line_item_id: line.line for line in request.lines if line.line is not None}
        patch = self._patch_lines(request)
        if patch:
            await self._client.request("PATCH", f"{_RECORD}/{ims_id}", json={"item": {"items": patch}})
            after = await self._find(request.external_id)
            if after is not None:
                added = [line for line in request.lines if line.line is None]
                new_numbers = [n for n in after[1] if n not in set(lines)]
                known.update({line.line_item_id: n for line, n in zip(added, new_numbers, strict=False)})
        return ImsOrderResult(ims_id, known)

    async def _find(self, external_id: str) -> tuple[str, list[int]] | None:
        try:
            response = await self._client.request(
                "GET", f"{_RECORD}/eid:{quote(external_id, safe='')}", params={"expandSubResources": "true"}
            )
        except NotFoundError:
            return None
        record = json_object(SYSTEM, f"sales order eid:{external_id}", response)
        with expect_shape(SYSTEM, f"sales order eid:{external_id}"):
            items = (record.get("item") or {}).get("items", [])
            return str(record["id"]), sorted(int(item["line"]) for item in items)

    async def _create_body(self, request: ImsOrderRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "externalId": request.external_id,
            "tranId": request.tran_id,
            "entity": {"id": request.customer_id},
            "orderStatus": {"id": request.status},
            "email": request.email or None,
            "item": {
                "items": [
                    {"item": {"id": line.item_id}, "quantity": line.quantity}
                    for line in request.lines
                    if line.quantity > 0
                ]
            },
        }
        ship_item = await self._ship_item(request.ship_method)
        if ship_item is not None:
            body["shipMethod"] = {"id": ship_item}
        if request.address is not None:
            body["shippingAddress"] = _address(request.address)
        return {k: v for k, v in body.items() if v is not None}

    async def _ship_item(self, title: str | None) -> str | None:
        """The IMS ship item called `title` (the IMS flow maps its name to the warehouse's code); None
        when there is none, and the IMS order goes without one (the IMS flow then holds it)."""
        if not title:
            return None
        quoted = title.replace("'", "''")
        rows = await self._client.suiteql(f"SELECT id FROM shipitem WHERE itemid = '{quoted}'")
        return str(rows[0]["id"]) if rows else None

    @staticmethod
    def _patch_lines(request: ImsOrderRequest) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for line in request.lines:
            if line.line is None:
                if line.quantity > 0:
                    lines.append({"item": {"id": line.item_id}, "quantity": line.quantity})
            elif line.quantity == 0:
                lines.append({"line": line.line, "isClosed": True})
            else:
                lines.append({"line": line.line, "quantity": line.quantity})
        return lines


def _by_position(request: ImsOrderRequest, numbers: list[int]) -> dict[str, int]:
    sent = [line for line in request.lines if line.quantity > 0]
    return {line.line_item_id: n for line, n in zip(sent, numbers, strict=False)}


def _address(address: Address) -> dict[str, Any]:
    fields = {
        "addressee": address.name,
        "addr1": address.line1,
        "addr2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postcode,
        "country": address.country,
        "addrPhone": address.phone,
    }
    return {k: v for k, v in fields.items() if v}
