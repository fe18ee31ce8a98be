"""Magento's order JSON as the domain's storefront order, at the edge.

Which order items become warehouse lines (Magento's parent/child items,
../shared/reference/magento.md): a simple item of its own is a line; a bundle parent is not (the
warehouse ships its components): each child item (`parent_item_id` = the bundle's `item_id`) is a
line whose quantity is the child's `qty_ordered`, already the bundle's quantity times the component's
quantity in one bundle (a bundle with two of one component, ordered three times, is a line of six);
a configurable becomes its simple child's SKU with the parent's quantities, and the line carries the
parent's item id, since Magento ships a configurable by its parent item. Virtual items ship nothing.
A line's id is the item id `POST /V1/order/{id}/ship` takes for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from stockbridge.domain.shipping import Address
from stockbridge.domain.storefront_orders import StorefrontLine, StorefrontOrder

BUNDLE, CONFIGURABLE = "bundle", "configurable"
CANCELED = "canceled"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # Magento's *_at fields: UTC, no offset


def magento_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: Any) -> datetime:
    return datetime.strptime(str(value)[:19], TIME_FORMAT).replace(tzinfo=UTC)


def _qty(value: Any) -> int:
    """Magento's quantities are decimals; the warehouse's whole units."""
    return round(float(value or 0))


def order_from_json(channel: str, raw: dict[str, Any]) -> StorefrontOrder:
    """Raises KeyError/TypeError/ValueError on a wrong shape (the caller's `expect_shape`)."""
    items: list[dict[str, Any]] = list(raw["items"])
    by_id = {int(i["item_id"]): i for i in items}
    lines = []
    for item in items:
        if item.get("is_virtual") in (1, True, "1") or item.get("product_type") in (BUNDLE, CONFIGURABLE):
            continue  # a bundle's components and a configurable's child make the lines
        parent_id = item.get("parent_item_id")
        parent = by_id.get(int(parent_id)) if parent_id else None
        # A configurable's child follows its parent: the parent's id and quantities make the line.
        source = parent if parent is not None and parent.get("product_type") == CONFIGURABLE else item
        wanted = _qty(source["qty_ordered"]) - _qty(source.get("qty_canceled"))
        lines.append(
            StorefrontLine(
                str(source["item_id"]),
                str(item.get("sku") or ""),
                wanted,
                max(0, wanted - _qty(source.get("qty_shipped"))),
            )
        )
    state = str(raw.get("state") or "")
    updated = parse_time(raw["updated_at"])
    return StorefrontOrder(
        channel=channel,
        order_id=str(raw["entity_id"]),
        name=str(raw["increment_id"]),
        email=str(raw.get("customer_email") or ""),
        # Magento has no financial status of its own: its order status (processing once paid,
        # pending, holded, or a merchant's own) is what the store's release statuses are matched to.
        financial_status=str(raw.get("status") or state).lower(),
        ship_method=str(raw["shipping_description"]) if raw.get("shipping_description") else None,
        address=_address(raw),
        lines=tuple(lines),
        updated_at=updated,
        cancelled_at=updated if state == CANCELED else None,
    )


def _address(raw: dict[str, Any]) -> Address | None:
    assignments = (raw.get("extension_attributes") or {}).get("shipping_assignments") or []
    if not assignments:
        return None
    found = (assignments[0].get("shipping") or {}).get("address")
    if not found:
        return None
    street = found.get("street") or []
    street = [street] if isinstance(street, str) else list(street)

    def text(key: str) -> str:
        return str(found.get(key) or "")

    return Address(
        name=" ".join(p for p in (text("firstname"), text("lastname")) if p),
        line1=str(street[0]) if street else "",
        line2=", ".join(str(s) for s in street[1:]),
        city=text("city"),
        region=text("region_code") or text("region"),
        postcode=text("postcode"),
        country=text("country_id"),
        phone=text("telephone"),
    )
