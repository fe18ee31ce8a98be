"""Poison events (**Simulator only**): one event a consumer cannot use, on demand, to test that it is
refused or set aside without stopping anything behind it. Pure.

A poison event takes the warehouse's next sequence like any event, so it sits in the events feed in
order and is delivered, signed, to every subscription for `inventory.movement`; stock does not change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from .movements import EVENT_TYPE, ClarusError, valid_sku

MALFORMED_JSON: Final = "malformed_json"
SCHEMA_INVALID: Final = "schema_invalid"
OUT_OF_RANGE: Final = "out_of_range"
POISON_KINDS: Final = (MALFORMED_JSON, SCHEMA_INVALID, OUT_OF_RANGE)
DEFAULT_QUANTITY: Final = 10**20  # past a signed 64-bit integer: no SQL column holds it
_FIELDS: Final = frozenset({"kind", "warehouse_id", "sku", "quantity"})


@dataclass(frozen=True, slots=True)
class PoisonRequest:
    kind: str
    warehouse_id: str | None
    sku: str
    quantity: int


def parse_poison(raw: dict[str, Any]) -> PoisonRequest:
    unknown = set(raw) - _FIELDS
    if unknown:
        raise ClarusError("invalid_field", "unknown field", sorted(unknown)[0])
    kind = raw.get("kind")
    if kind not in POISON_KINDS:
        raise ClarusError("invalid_field", f"kind must be one of {', '.join(POISON_KINDS)}", "kind")
    warehouse_id = raw.get("warehouse_id")
    if warehouse_id is not None and not isinstance(warehouse_id, str):
        raise ClarusError("invalid_field", "warehouse_id must be a string", "warehouse_id")
    sku = raw.get("sku", "POISON-1")
    if not valid_sku(sku):
        raise ClarusError("invalid_field", "sku must be 1..50 letters, digits, '-' or '_'", "sku")
    quantity = raw.get("quantity", DEFAULT_QUANTITY)
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ClarusError("invalid_field", "quantity must be an integer", "quantity")
    return PoisonRequest(kind, warehouse_id, sku, quantity)


@dataclass(frozen=True, slots=True)
class PoisonEvent:
    kind: str
    warehouse_id: str
    sequence: int
    occurred_at: str
    sku: str
    quantity: int

    @property
    def id(self) -> str:
        return f"evt_{self.warehouse_id}_{self.sequence:012d}"

    @property
    def type(self) -> str:
        return EVENT_TYPE

    def _movement(self) -> dict[str, Any]:
        """A movement event as a well-behaved one looks, but with an impossible balance."""
        return {
            "id": self.id,
            "type": EVENT_TYPE,
            "created_at": self.occurred_at,
            "data": {
                "warehouse_id": self.warehouse_id,
                "sequence": self.sequence,
                "occurred_at": self.occurred_at,
                "movement_type": "count",
                "sku": self.sku,
                "quantity": self.quantity,
                "from_status": None,
                "to_status": "available",
                "counted_quantity": self.quantity,
                "from_warehouse_id": None,
                "to_warehouse_id": None,
                "reference": "poison",
                "balances": [{"status": "available", "quantity": self.quantity}],
            },
        }

    def to_dict(self) -> Any:
        """The event as the events feed lists it."""
        if self.kind == MALFORMED_JSON:
            # A JSON feed cannot carry broken JSON; the nearest is an item that is not an event
            # object at all: the broken text as a string.
            return self.to_json_bytes().decode()
        event = self._movement()
        if self.kind == SCHEMA_INVALID:
            data = event["data"]
            del data["sequence"]
            data["balances"] = "available=5"
        return event

    def to_json_bytes(self) -> bytes:
        """The webhook body."""
        if self.kind == MALFORMED_JSON:
            text = json.dumps(self._movement(), separators=(",", ":"))
            return text[: len(text) // 2].encode()  # cut off mid-body, as a broken proxy would
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
