"""Shopify's global ids: `gid://shopify/<Type>/<n>` (InventoryLevel adds `?inventory_item_id=`)."""

from __future__ import annotations

PREFIX = "gid://shopify/"


def gid(kind: str, number: int) -> str:
    return f"{PREFIX}{kind}/{number}"


def parse_gid(value: object, kind: str) -> int | None:
    """The number in a gid of type `kind`, or None when `value` is not one."""
    if not isinstance(value, str) or not value.startswith(f"{PREFIX}{kind}/"):
        return None
    tail = value[len(PREFIX) + len(kind) + 1 :].split("?", 1)[0]
    return int(tail) if tail.isdigit() else None


def level_gid(level_id: int, item_id: int) -> str:
    return f"{gid('InventoryLevel', level_id)}?inventory_item_id={item_id}"
