"""Clarus movement vocabulary: statuses, movement types, validation of a movement, its event. Pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

STATUSES: Final = (
    "available",
    "allocated",
    "picked",
    "quarantine",
    "damaged",
    "in_transfer",
    "returned",
    "expired",
    "inbound",
)
STATUS_ORDER: Final = {s: i for i, s in enumerate(STATUSES)}
EVENT_TYPE: Final = "inventory.movement"
MAX_QUANTITY: Final = 1_000_000_000
_SKU = re.compile(r"[A-Za-z0-9_-]{1,50}")
SKU_RULE: Final = "must be 1..50 characters of letters, digits, '-' or '_'"

# Per movement type: (from_status rule, to_status rule), each rule (default, overridable, required).
# A rule of (None, False, False) means the field must be absent; (X, False, False) means absent or X.
_Rule = tuple[str | None, bool, bool]
_NONE: Final[_Rule] = (None, False, False)
_REQUIRED: Final[_Rule] = (None, True, True)
MOVEMENT_RULES: Final[dict[str, tuple[_Rule, _Rule]]] = {
    "receipt": (_NONE, ("available", True, False)),
    "putaway": (("inbound", False, False), ("available", False, False)),
    "status_change": (_REQUIRED, _REQUIRED),
    "allocate": (("available", False, False), ("allocated", False, False)),
    "deallocate": (("allocated", False, False), ("available", False, False)),
    "pick": (("allocated", True, False), ("picked", False, False)),
    "despatch": (("picked", False, False), _NONE),
    "transfer_out": (("available", False, False), ("in_transfer", False, False)),
    "transfer_in": (("in_transfer", False, False), _NONE),
    "count": (_NONE, ("available", True, False)),
    "write_off": (("damaged", True, False), _NONE),
}
MOVEMENT_TYPES: Final = tuple(MOVEMENT_RULES)
_MOVEMENT_FIELDS: Final = frozenset(
    {
        "warehouse_id",
        "movement_type",
        "sku",
        "quantity",
        "from_status",
        "to_status",
        "counted_quantity",
        "to_warehouse_id",
        "reference",
    }
)


class ClarusError(Exception):
    """A refused request or movement; `status` is the HTTP status the API answers with."""

    def __init__(self, code: str, message: str, field: str | None = None, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body

    def response_body(self) -> dict[str, Any]:
        """The whole JSON answer; subclasses add context next to `error` (e.g. the conflicting order)."""
        return {"error": self.to_dict()}


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class Movement:
    warehouse_id: str
    movement_type: str
    sku: str
    quantity: int | None = None
    from_status: str | None = None
    to_status: str | None = None
    counted_quantity: int | None = None
    to_warehouse_id: str | None = None
    reference: str | None = None


def valid_sku(value: object) -> bool:
    """SKUs: 1..50 letters, digits, '-', '_'; case sensitive, leading zeros significant (compared as text)."""
    return isinstance(value, str) and _SKU.fullmatch(value) is not None


def invalid_field(field: str, message: str) -> ClarusError:
    return ClarusError("invalid_field", f"{field}: {message}", field)


def _opt_str(raw: dict[str, Any], field: str, max_len: int) -> str | None:
    value = raw.get(field)
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= max_len):
        raise invalid_field(field, f"must be a string of 1..{max_len} characters")
    return value


def _opt_int(raw: dict[str, Any], field: str, minimum: int) -> int | None:
    value = raw.get(field)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_QUANTITY
    ):
        raise invalid_field(field, f"must be an integer between {minimum} and {MAX_QUANTITY}")
    return value


def _resolve(rule: _Rule, given: str | None, field: str, movement_type: str) -> str | None:
    default, overridable, required = rule
    if given is None:
        if required:
            raise invalid_field(field, f"is required for {movement_type}")
        return default
    if given not in STATUS_ORDER:
        raise invalid_field(field, f"unknown status {given!r}; one of {', '.join(STATUSES)}")
    if not overridable and given != default:
        allowed = "must be omitted" if default is None else f"must be {default!r}"
        raise invalid_field(field, f"{allowed} for {movement_type}")
    return given


def parse_movement(raw: object) -> Movement:
    """Validate a JSON movement and fill in the statuses its type implies; raises ClarusError."""
    if not isinstance(raw, dict):
        raise ClarusError("invalid_body", "a movement must be a JSON object")
    unknown = set(raw) - _MOVEMENT_FIELDS
    if unknown:
        raise invalid_field(sorted(unknown)[0], "unknown field")
    warehouse_id, movement_type, sku = raw.get("warehouse_id"), raw.get("movement_type"), raw.get("sku")
    if not isinstance(warehouse_id, str) or not warehouse_id:
        raise invalid_field("warehouse_id", "is required")
    if movement_type not in MOVEMENT_RULES:
        raise invalid_field("movement_type", f"must be one of {', '.join(MOVEMENT_TYPES)}")
    if not valid_sku(sku):
        raise invalid_field("sku", SKU_RULE)
    assert isinstance(sku, str)
    quantity = _opt_int(raw, "quantity", 1)
    counted = _opt_int(raw, "counted_quantity", 0)
    if movement_type == "count":
        if counted is None:
            raise invalid_field("counted_quantity", "is required for count")
        if quantity is not None:
            raise invalid_field("quantity", "must be omitted for count (use counted_quantity)")
    else:
        if quantity is None:
            raise invalid_field("quantity", f"is required for {movement_type}")
        if counted is not None:
            raise invalid_field("counted_quantity", "is only allowed for count")
    to_warehouse_id = _opt_str(raw, "to_warehouse_id", 32)
    if movement_type == "transfer_in" and to_warehouse_id is None:
        raise invalid_field("to_warehouse_id", "is required for transfer_in")
    if to_warehouse_id is not None:
        if movement_type not in ("transfer_in", "transfer_out"):
            raise invalid_field("to_warehouse_id", "is only allowed for transfers")
        if to_warehouse_id == warehouse_id:
            raise invalid_field("to_warehouse_id", "must differ from warehouse_id")
    from_rule, to_rule = MOVEMENT_RULES[movement_type]
    from_status = _resolve(from_rule, raw.get("from_status"), "from_status", movement_type)
    to_status = _resolve(to_rule, raw.get("to_status"), "to_status", movement_type)
    if from_status is not None and from_status == to_status:
        raise invalid_field("to_status", "must differ from from_status")
    return Movement(
        warehouse_id,
        movement_type,
        sku,
        quantity,
        from_status,
        to_status,
        counted,
        to_warehouse_id,
        _opt_str(raw, "reference", 255),
    )


@dataclass(frozen=True, slots=True)
class Event:
    warehouse_id: str
    sequence: int
    occurred_at: str
    movement_type: str
    sku: str
    quantity: int
    from_status: str | None
    to_status: str | None
    balances: tuple[tuple[str, int], ...]
    reference: str | None = None
    counted_quantity: int | None = None
    from_warehouse_id: str | None = None
    to_warehouse_id: str | None = None

    @property
    def id(self) -> str:
        return f"evt_{self.warehouse_id}_{self.sequence:012d}"

    @property
    def type(self) -> str:
        return EVENT_TYPE

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": EVENT_TYPE,
            "created_at": self.occurred_at,
            "data": {
                "warehouse_id": self.warehouse_id,
                "sequence": self.sequence,
                "occurred_at": self.occurred_at,
                "movement_type": self.movement_type,
                "sku": self.sku,
                "quantity": self.quantity,
                "from_status": self.from_status,
                "to_status": self.to_status,
                "counted_quantity": self.counted_quantity,
                "from_warehouse_id": self.from_warehouse_id,
                "to_warehouse_id": self.to_warehouse_id,
                "reference": self.reference,
                "balances": [{"status": s, "quantity": q} for s, q in self.balances],
            },
        }

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
