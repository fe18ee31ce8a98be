"""NetSuite sales orders, kits and items for the order flow, translated to domain types at this edge."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stockbridge.connectors.netsuite.client import SYSTEM, NetSuiteClient
from stockbridge.connectors.shapes import expect_shape, json_object
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address


def _ref_name(value: Any) -> str | None:
    if isinstance(value, dict):
        name = value.get("refName")
        return str(name) if name is not None else None
    return None


def _ref_id(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return str(value) if isinstance(value, str | int) else None


def translate_address(raw: Any) -> Address | None:
    if not isinstance(raw, dict):
        return None
    country = raw.get("country")
    return Address(
        name=str(raw.get("addressee") or ""),
        line1=str(raw.get("addr1") or ""),
        line2=str(raw.get("addr2") or ""),
        city=str(raw.get("city") or ""),
        region=str(raw.get("state") or ""),
        postcode=str(raw.get("zip") or ""),
        country=str(_ref_id(country) or ""),
        phone=str(raw.get("addrPhone") or ""),
    )


def translate_sales_order(record: dict[str, Any]) -> SalesOrder:
    """A `salesOrder` record (with `expandSubResources=true`) as a domain `SalesOrder`."""
    lines = tuple(
        OrderLine(
            line=int(item["line"]),
            sku=str(_ref_name(item.get("item")) or _ref_id(item.get("item")) or ""),
            quantity=round(float(item.get("quantity") or 0)),
            quantity_fulfilled=round(float(item.get("quantityFulfilled") or 0)),
            is_closed=bool(item.get("isClosed", False)),
        )
        for item in (record.get("item") or {}).get("items", [])
    )
    return SalesOrder(
        ims_id=str(record["id"]),
        reference=str(record.get("tranId") or record["id"]),
        status=str(_ref_id(record.get("orderStatus")) or ""),
        ship_method=_ref_name(record.get("shipMethod")),
        address=translate_address(record.get("shippingAddress")),
        lines=lines,
        last_modified=str(record.get("lastModifiedDate") or ""),
        email=str(record.get("email") or ""),
    )


class NetSuiteOrders:
    """The order half of the NetSuite API (docs/simulators/ims.md)."""

    def __init__(self, client: NetSuiteClient) -> None:
        self._client = client

    async def changed_since(self, stamp: str | None) -> list[tuple[str, str]]:
        """(id, lastmodifieddate) of sales orders modified at or after `stamp` (all if None), oldest first."""
        query = "SELECT id, lastmodifieddate FROM transaction WHERE type = 'SalesOrd'"
        if stamp:
            query += (
                f" AND lastmodifieddate >= TO_DATE('{stamp.replace(chr(39), '')}', 'YYYY-MM-DD HH24:MI:SS')"
            )
        query += " ORDER BY lastmodifieddate, id"
        rows = await self._client.suiteql(query)
        with expect_shape(SYSTEM, "changed sales orders"):
            return [(str(r["id"]), str(r["lastmodifieddate"])) for r in rows]

    async def get(self, ims_id: str) -> SalesOrder:
        response = await self._client.request(
            "GET", f"/record/v1/salesOrder/{ims_id}", params={"expandSubResources": "true"}
        )
        record = json_object(SYSTEM, f"sales order {ims_id}", response)
        with expect_shape(SYSTEM, f"sales order {ims_id}"):
            return translate_sales_order(record)

    async def kits(self) -> dict[str, list[KitMember]]:
        """Kit SKU → its members (SKU and quantity), from SuiteQL's kit member table."""
        rows = await self._client.suiteql(
            "SELECT p.itemid AS kit, i.itemid AS member, k.quantity AS quantity "
            "FROM kititemmember k JOIN item p ON p.id = k.parentitem JOIN item i ON i.id = k.item "
            "ORDER BY p.itemid, k.linenumber"
        )
        kits: dict[str, list[KitMember]] = defaultdict(list)
        with expect_shape(SYSTEM, "kit members"):
            for row in rows:
                kits[str(row["kit"])].append(KitMember(str(row["member"]), round(float(row["quantity"]))))
        return dict(kits)
