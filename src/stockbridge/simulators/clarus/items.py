"""Clarus product master: items keyed by SKU, upserted whole, listed in SKU order. Pure (no I/O)."""

from __future__ import annotations

import base64
import binascii
import bisect
from dataclasses import dataclass
from typing import Any, Final

from .movements import SKU_RULE, ClarusError, invalid_field, valid_sku

ITEM_FIELDS: Final = frozenset({"description", "barcode", "active"})
MAX_DESCRIPTION: Final = 255
MAX_BARCODE: Final = 64


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    description: str | None
    barcode: str | None
    active: bool
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "description": self.description,
            "barcode": self.barcode,
            "active": self.active,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class ItemPage:
    items: list[Item]
    next_cursor: str | None


def check_sku(sku: object, field: str = "sku") -> str:
    """The SKU if it follows the character rules; else `422 invalid_sku` naming `field`."""
    if not valid_sku(sku):
        raise ClarusError("invalid_sku", f"{field}: {SKU_RULE}", field)
    assert isinstance(sku, str)
    return sku


def _optional_text(raw: dict[str, Any], field: str, max_len: int) -> str | None:
    value = raw.get(field)
    if value is not None and (not isinstance(value, str) or len(value) > max_len):
        raise invalid_field(field, f"must be a string of at most {max_len} characters, or null")
    return value or None


def parse_item(raw: object) -> tuple[str | None, str | None, bool]:
    """Validate a PUT body: (description, barcode, active); omitted fields take defaults (PUT replaces)."""
    if not isinstance(raw, dict):
        raise ClarusError("invalid_body", "request body must be a JSON object", None, 400)
    unknown = set(raw) - ITEM_FIELDS
    if unknown:
        raise invalid_field(sorted(unknown)[0], "unknown field")
    active = raw.get("active", True)
    if not isinstance(active, bool):
        raise invalid_field("active", "must be true or false")
    return (
        _optional_text(raw, "description", MAX_DESCRIPTION),
        _optional_text(raw, "barcode", MAX_BARCODE),
        active,
    )


def _encode_cursor(sku: str) -> str:
    return base64.urlsafe_b64encode(f"i1|{sku}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        version, sku = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        version, sku = "", ""
    if version != "i1" or not valid_sku(sku):
        raise ClarusError("invalid_cursor", "cursor is not one this API issued", "cursor", 400)
    return sku


class ItemCatalog:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self._skus: list[str] = []  # sorted, for paging

    def get(self, sku: str) -> Item | None:
        return self.items.get(sku)

    def upsert(self, sku: str, raw: object, now: str) -> tuple[Item, bool]:
        """Create or replace an item; returns (item, created). An identical PUT changes nothing."""
        check_sku(sku)
        description, barcode, active = parse_item(raw)
        existing = self.items.get(sku)
        if existing is None:
            item = Item(sku, description, barcode, active, now, now)
            self.items[sku] = item
            bisect.insort(self._skus, sku)
            return item, True
        if (existing.description, existing.barcode, existing.active) == (description, barcode, active):
            return existing, False
        item = Item(sku, description, barcode, active, existing.created_at, now)
        self.items[sku] = item
        return item, False

    def page(self, limit: int, cursor: str | None = None) -> ItemPage:
        start = bisect.bisect_right(self._skus, _decode_cursor(cursor)) if cursor else 0
        skus = self._skus[start : start + limit]
        more = start + limit < len(self._skus)
        return ItemPage([self.items[s] for s in skus], _encode_cursor(skus[-1]) if more and skus else None)

    def dump(self) -> dict[str, Any]:
        return {sku: self.items[sku].to_dict() for sku in self._skus}
