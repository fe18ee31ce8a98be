"""NetSuite Item Fulfilments and invoices by transforming the sales order, idempotent by external id.

`POST /salesOrder/{id}/!transform/itemFulfillment` (and `/invoice`) answers 204 with a Location
(../shared/reference/netsuite.md). A retry after a lost answer is refused for its duplicate external
id: the connector then reads the record by `eid:` and, if it is there, the call counts as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stockbridge.connectors.errors import NotFoundError, RejectedError
from stockbridge.connectors.netsuite.client import SYSTEM, NetSuiteClient
from stockbridge.connectors.shapes import expect_shape, json_object


class NetSuiteFulfilments:
    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def exists(self, record_type: str, external_id: str) -> bool:
        try:
            await self._client.request("GET", f"/record/v1/{record_type}/eid:{external_id}")
        except NotFoundError:
            return False
        return True

    async def _transform(self, so_id: str, target: str, external_id: str, body: dict[str, object]) -> None:
        try:
            await self._client.request(
                "POST", f"/record/v1/salesOrder/{so_id}/!transform/{target}", json=body
            )
        except RejectedError:
            if await self.exists(target, external_id):
                return  # made by an earlier attempt whose answer was lost
            raise

    async def item_fulfilment(
        self,
        so_id: str,
        external_id: str,
        lines: Mapping[int, int],
        *,
        order_lines: Sequence[int],
        location_id: str,
        carrier: str,
        tracking_numbers: Sequence[str],
    ) -> None:
        body: dict[str, object] = {
            "externalId": external_id,
            "shipStatus": "C",
            "memo": f"Shipped by {carrier}" if carrier else "Shipped",
            # The transform starts from every order line with itemreceive true (Oracle's example lists a
            # line with itemreceive false to leave it out): name every line, receive only ours.
            "item": {
                "items": [
                    {
                        "orderLine": line,
                        "quantity": lines[line],
                        "itemreceive": True,
                        "location": int(location_id),
                    }
                    if line in lines
                    else {"orderLine": line, "itemreceive": False}
                    for line in sorted(set(order_lines) | set(lines))
                ]
            },
            "package": {
                "items": [
                    {"packageTrackingNumber": number, "packageDescr": carrier} for number in tracking_numbers
                ]
            },
        }
        await self._transform(so_id, "itemFulfillment", external_id, body)

    async def tracking_numbers(self, external_id: str) -> list[str] | None:
        """The tracking numbers on the Item Fulfilment with this external id, or None if there is none."""
        try:
            response = await self._client.request(
                "GET", f"/record/v1/itemFulfillment/eid:{external_id}", params={"expandSubResources": "true"}
            )
        except NotFoundError:
            return None
        record = json_object(SYSTEM, f"item fulfilment {external_id}", response)
        with expect_shape(SYSTEM, f"item fulfilment {external_id}"):
            packages = (record.get("package") or {}).get("items", [])
            return [str(p["packageTrackingNumber"]) for p in packages if p.get("packageTrackingNumber")]

    async def invoice(self, so_id: str, external_id: str, lines: Mapping[int, int]) -> None:
        body: dict[str, object] = {
            "externalId": external_id,
            "item": {"items": [{"orderLine": line, "quantity": qty} for line, qty in sorted(lines.items())]},
        }
        await self._transform(so_id, "invoice", external_id, body)
