"""inventorySetQuantities: Shopify's rules for setting absolute quantities, and its idempotency keys.

From 2026-04 every quantity must carry `changeFromQuantity` (null opts out of the check) and a
mismatch fails the whole call with `CHANGE_FROM_QUANTITY_STALE`; before it, `compareQuantity` /
`ignoreCompareQuantity` play that part. A call either applies every quantity or none. A result is
kept under its `@idempotent` key: the same key with the same input returns it again without applying
anything; the same key with another input is `IDEMPOTENCY_KEY_PARAMETER_MISMATCH`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .ids import parse_gid
from .state import AppliedSet, Catalog

SETTABLE = ("available", "on_hand")
MAX_QUANTITY = 1_000_000_000
REASONS = frozenset(
    [
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    ]
)


class InputTooLarge(ValueError):
    """More quantities than one call takes (a top-level error, like Shopify's MAX_INPUT_SIZE_EXCEEDED)."""


class ChangeFromRequired(ValueError):
    """A quantity without `changeFromQuantity` on a version that requires it."""


@dataclass(frozen=True)
class UserError:
    field: list[str] | None
    message: str
    code: str


@dataclass(frozen=True)
class Change:
    name: str
    delta: int
    quantity_after: int
    item_id: int
    location_id: int


@dataclass
class SetResult:
    group_id: int | None = None
    created_at: datetime | None = None
    reason: str = ""
    reference_document_uri: str | None = None
    changes: list[Change] = field(default_factory=list)
    user_errors: list[UserError] = field(default_factory=list)


class InventorySetter:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.by_key: dict[str, tuple[str, SetResult]] = {}

    def reset(self) -> None:
        self.by_key.clear()

    def set_quantities(
        self, payload: dict[str, Any], *, key: str | None, strict: bool, max_quantities: int
    ) -> SetResult:
        quantities = payload.get("quantities") or []
        if len(quantities) > max_quantities:
            raise InputTooLarge(
                f"The input array size of {len(quantities)} is greater than the maximum allowed of "
                f"{max_quantities}."
            )
        if strict:
            missing = [i for i, q in enumerate(quantities) if "changeFromQuantity" not in q]
            if missing:
                raise ChangeFromRequired(
                    f"changeFromQuantity is required on every quantity from API version 2026-04 "
                    f"(pass null to skip the check); missing at quantities {missing}."
                )
        fingerprint = json.dumps(payload, sort_keys=True, default=str)
        if key is not None and key in self.by_key:
            seen, result = self.by_key[key]
            if seen == fingerprint:
                return result
            message = "The same idempotency key cannot be used with different operation parameters."
            return SetResult(user_errors=[UserError(None, message, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")])
        result = self._apply(payload, quantities, key)
        if key is not None:
            self.by_key[key] = (fingerprint, result)
        return result

    def _apply(self, payload: dict[str, Any], quantities: list[dict[str, Any]], key: str | None) -> SetResult:
        name, reason = payload.get("name"), payload.get("reason")
        errors: list[UserError] = []
        if name not in SETTABLE:
            errors.append(
                UserError(
                    ["input", "name"],
                    "The quantity name must be either 'available' or 'on_hand'.",
                    "INVALID_NAME",
                )
            )
        if reason not in REASONS:
            errors.append(
                UserError(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON")
            )
        targets: list[tuple[int, int, int]] = []
        seen: set[tuple[int, int]] = set()
        for index, line in enumerate(quantities):
            error = self._check_line(str(index), line, payload, seen, str(name))
            if error is not None:
                errors.append(error)
                continue
            targets.append((self._item(line), self._location(line), int(line["quantity"])))
        if errors:
            return SetResult(user_errors=errors)
        return self._commit(str(name), targets, payload, key)

    def _item(self, line: dict[str, Any]) -> int:
        return parse_gid(line.get("inventoryItemId"), "InventoryItem") or 0

    def _location(self, line: dict[str, Any]) -> int:
        return parse_gid(line.get("locationId"), "Location") or 0

    def _check_line(
        self, index: str, line: dict[str, Any], payload: dict[str, Any], seen: set[tuple[int, int]], name: str
    ) -> UserError | None:
        path = ["input", "quantities", index]
        item, location = self._item(line), self._location(line)
        if item not in self.catalog.items:
            return UserError(
                [*path, "inventoryItemId"],
                "The specified inventory item could not be found.",
                "INVALID_INVENTORY_ITEM",
            )
        if location not in self.catalog.locations:
            return UserError(
                [*path, "locationId"], "The specified location could not be found.", "INVALID_LOCATION"
            )
        if (item, location) in seen:
            message = "The combination of inventoryItemId and locationId must be unique."
            return UserError(path, message, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR")
        seen.add((item, location))
        level = self.catalog.levels.get((item, location))
        if level is None:
            message = "The specified inventory item is not stocked at the location."
            return UserError([*path, "locationId"], message, "ITEM_NOT_STOCKED_AT_LOCATION")
        quantity = int(line["quantity"])
        if quantity < 0:
            return UserError(
                [*path, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"
            )
        if quantity > MAX_QUANTITY:
            return UserError(
                [*path, "quantity"],
                "The total quantity can't be higher than 1,000,000,000.",
                "INVALID_QUANTITY_TOO_HIGH",
            )
        current = level.get(name) if name in SETTABLE else 0
        if "changeFromQuantity" in line:
            expected = line["changeFromQuantity"]
            if expected is not None and expected != current:
                message = "The changeFromQuantity value does not match persisted value."
                return UserError([*path, "changeFromQuantity"], message, "CHANGE_FROM_QUANTITY_STALE")
        elif not payload.get("ignoreCompareQuantity"):
            if "compareQuantity" not in line or line["compareQuantity"] is None:
                message = (
                    "The compareQuantity argument must be given to each quantity or ignored using "
                    "ignoreCompareQuantity."
                )
                return UserError([*path, "compareQuantity"], message, "COMPARE_QUANTITY_REQUIRED")
            if line["compareQuantity"] != current:
                message = "The compareQuantity value does not match persisted value."
                return UserError([*path, "compareQuantity"], message, "COMPARE_QUANTITY_STALE")
        return None

    def _commit(
        self, name: str, targets: list[tuple[int, int, int]], payload: dict[str, Any], key: str | None
    ) -> SetResult:
        catalog = self.catalog
        now = catalog.clock()
        result = SetResult(
            catalog.next_id(), now, str(payload.get("reason")), payload.get("referenceDocumentUri")
        )
        for item, location, quantity in targets:
            level = catalog.levels[(item, location)]
            before = level.get(name)
            delta = quantity - before
            catalog.move(item, location, available=delta)  # setting on_hand moves available with it
            for changed in ("available", "on_hand"):
                result.changes.append(Change(changed, delta, level.get(changed), item, location))
            sku = catalog.items[item].sku
            uri = result.reference_document_uri
            catalog.applied.append(AppliedSet(now, item, location, sku, name, before, quantity, key, uri))
        return result
