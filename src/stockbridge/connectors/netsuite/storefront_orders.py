"""Storefront orders into NetSuite (orders_route: ims), idempotent by external id.

NetSuite documents `PUT /salesOrder/eid:{externalId}` as an upsert, but a PUT replaces the record:
the lines would be renumbered, and the IMS flow diffs the warehouse order by line number. So: look
the order up by external id (`GET /salesOrder/eid:...`); if it is not there, `POST` it with that
external id (a retry after a lost answer is refused as a duplicate and looked up again); if it is,
`PATCH` its lines by line number (quantity changed, closed, or added). A cancellation closes every
line: REST has no cancel action, and a Pending Fulfillment order with every line closed is Closed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.netsuite.client import SYSTEM, NetSuiteClient
from stockbridge.connectors.shapes import expect_shape, json_object
from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_routing import ImsOrderRequest, ImsOrderResult

_RECORD = "/record/v1/salesOrder"


@dataclass(frozen=True, slots=True)
class _Line:
    line: int
    item_id: str
    quantity: int
    closed: bool


class NetSuiteStorefrontOrders:
    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def put_storefront_order(self, request: ImsOrderRequest) -> ImsOrderResult:
        found = await self._find(request.external_id)
        if found is None:
            try:
                await self._client.request("POST", _RECORD, json=await self._create_body(request))
            except RejectedError as exc:
                if "external id already exists" not in str(exc):
                    raise
            found = await self._find(request.external_id)
            if found is None:
                raise RejectedError(SYSTEM, f"sales order {request.external_id} not found after create")
        ims_id, lines = found
        matched = _match(request, lines)
        patch = _patch(request, matched, {line.line: line for line in lines})
        if patch:
            await self._client.request("PATCH", f"{_RECORD}/{ims_id}", json={"item": {"items": patch}})
            found = await self._find(request.external_id)
            if found is not None:
                matched = _match(request, found[1])
        return ImsOrderResult(ims_id, matched)

    async def _find(self, external_id: str) -> tuple[str, list[_Line]] | None:
        try:
            response = await self._client.request(
                "GET", f"{_RECORD}/eid:{quote(external_id, safe='')}", params={"expandSubResources": "true"}
            )
        except NotFoundError:
            return None
        record = json_object(SYSTEM, f"sales order eid:{external_id}", response)
        with expect_shape(SYSTEM, f"sales order eid:{external_id}"):
            items = (record.get("item") or {}).get("items", [])
            lines = [
                _Line(
                    int(item["line"]),
                    str(item["item"]["id"]),
                    round(float(item.get("quantity") or 0)),
                    bool(item.get("isClosed", False)),
                )
                for item in items
            ]
            return str(record["id"]), sorted(lines, key=lambda line: line.line)

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


def _match(request: ImsOrderRequest, lines: list[_Line]) -> dict[str, int]:
    """Storefront line → IMS line: the number the hub recorded, else the first IMS line of the same
    item not matched yet (a create whose answer was lost left lines the hub never heard of)."""
    matched = {line.line_item_id: line.line for line in request.lines if line.line is not None}
    claimed = set(matched.values())
    for wanted in request.lines:
        if wanted.line_item_id in matched:
            continue
        for line in lines:
            if line.line not in claimed and line.item_id == wanted.item_id:
                matched[wanted.line_item_id] = line.line
                claimed.add(line.line)
                break
    return matched


def _patch(
    request: ImsOrderRequest, matched: dict[str, int], lines: dict[int, _Line]
) -> list[dict[str, Any]]:
    """The line changes that make the IMS order match: quantities, closed lines, new lines."""
    patch: list[dict[str, Any]] = []
    for wanted in request.lines:
        number = matched.get(wanted.line_item_id)
        have = None if number is None else lines.get(number)
        if have is None:
            if wanted.quantity > 0:
                patch.append({"item": {"id": wanted.item_id}, "quantity": wanted.quantity})
        elif wanted.quantity == 0:
            if not have.closed:
                patch.append({"line": have.line, "isClosed": True})
        elif have.closed or have.quantity != wanted.quantity:
            change: dict[str, Any] = {"line": have.line, "quantity": wanted.quantity}
            if have.closed:
                change["isClosed"] = False
            patch.append(change)
    return patch


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
