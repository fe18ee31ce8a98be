"""Multi-Source Inventory: sources, and source items set by absolute quantity, many per call.

`POST /V1/inventory/source-items` (`SourceItemsSaveInterface`) saves every item of the call or none:
MSI validates them all first (`"Validation Failed"` with an `errors` list, each a message and its
parameters), then writes. It does not check that the SKU is a catalogue product (the table has no
foreign key to products); an unknown `source_code` breaks the foreign key to `inventory_source` and
the save fails as a whole ("Could not save Source Item").
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import MagentoError, bad_request
from .state import SourceItem, SourceItemChange


class Inventory:
    def __init__(self, sources: list[str], clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.sources: list[str] = list(sources)
        self.items: dict[tuple[str, str], SourceItem] = {}
        self.changes: list[SourceItemChange] = []
        self.saves = 0  # calls of the save endpoint that applied (all their items)

    def save(self, body: Any) -> None:
        rows = body.get("sourceItems") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise bad_request('"%fieldName" is required. Enter and try again.', {"fieldName": "sourceItems"})
        if not rows:
            raise bad_request("Input data is empty")  # UNCONFIRMED wording
        checked = [self._valid(row) for row in rows]
        errors = [e for _, e in checked if e]
        if errors:
            raise MagentoError(400, "Validation Failed", errors=[e for group in errors for e in group])
        if any(item.source_code not in self.sources for item, _ in checked):
            raise bad_request("Could not save Source Item")
        for item, _ in checked:
            self.put(item)
        self.saves += 1

    def put(self, item: SourceItem) -> None:
        key = (item.sku, item.source_code)
        before = self.items.get(key)
        self.items[key] = item
        if before is None or before.quantity != item.quantity or before.status != item.status:
            self.changes.append(
                SourceItemChange(
                    self.clock(),
                    item.sku,
                    item.source_code,
                    None if before is None else before.quantity,
                    item.quantity,
                    item.status,
                )
            )

    @staticmethod
    def _valid(row: Any) -> tuple[SourceItem, list[dict[str, Any]]]:
        errors: list[dict[str, Any]] = []
        row = row if isinstance(row, dict) else {}
        sku, source = str(row.get("sku") or "").strip(), str(row.get("source_code") or "").strip()
        for name, value in (("sku", sku), ("source_code", source)):
            if not value:
                errors.append({"message": '"%field" can not be empty.', "parameters": {"field": name}})
        try:
            quantity = float(row.get("quantity", 0))
        except (TypeError, ValueError):
            quantity = 0.0
            errors.append({"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}})
        status = row.get("status", 1)
        if status not in (0, 1, "0", "1"):
            errors.append({"message": '"%field" should be numeric.', "parameters": {"field": "status"}})
            status = 0
        return SourceItem(sku, source, quantity, int(status)), errors

    def rows(self) -> list[SourceItem]:
        return sorted(self.items.values(), key=lambda i: (i.source_code, i.sku))
