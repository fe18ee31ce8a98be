"""Clarus sales orders: statuses, the order value, validation of create/amend bodies, transitions. Pure.

Storage, paging and events are in order_book.py and state.py; HTTP in orders_api.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Container, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .items import ItemCatalog, check_sku
from .movements import ClarusError, invalid_field

ORDER_STATUSES: Final = (
    "received",
    "released",
    "allocated",
    "picking",
    "packed",
    "partially_despatched",
    "despatched",
    "cancelled",
    "on_hold",
)
FLOW: Final = ("received", "released", "allocated", "picking", "packed")  # what /advance walks along
EDITABLE: Final = frozenset({"received", "released", "allocated", "on_hold"})
HOLDABLE: Final = frozenset({"received", "released", "allocated"})
ADVANCE_TARGETS: Final = ("released", "allocated", "picking", "packed", "on_hold")
ORDER_STATUS_CHANGED: Final = "order.status_changed"
ORDER_UPDATED: Final = "order.updated"
ORDER_EVENT_TYPES: Final = (ORDER_STATUS_CHANGED, ORDER_UPDATED)

MAX_REFERENCE: Final = 64
MAX_LINES: Final = 500
MAX_LINE_REF: Final = 50
MAX_LINE_QUANTITY: Final = 1_000_000
MAX_NOTES: Final = 1000
CREATE_FIELDS: Final = frozenset({"reference", "warehouse_id", "ship_method", "ship_to", "lines", "notes"})
AMEND_FIELDS: Final = frozenset({"ship_method", "ship_to", "lines", "notes"})
LINE_FIELDS: Final = frozenset({"line_ref", "sku", "quantity"})
# (field, required, max length), in the order they are checked and serialised.
ADDRESS_FIELDS: Final = (
    ("name", True, 100),
    ("line1", True, 100),
    ("line2", False, 100),
    ("city", True, 100),
    ("region", False, 100),
    ("postcode", True, 20),
    ("country", True, 2),
    ("phone", False, 32),
    ("email", False, 254),
)
_ISO_3166_ALPHA_2: Final = (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS "
    "BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE "
    "EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC "
    "LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA "
    "NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO "
    "TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW "
)
COUNTRIES: Final = frozenset(_ISO_3166_ALPHA_2.split())


class OrderConflict(ClarusError):
    """A 409 that also answers the order as it stands, so a retrying client can see what exists."""

    def __init__(self, code: str, message: str, order: Order, field: str | None = None) -> None:
        super().__init__(code, message, field, 409)
        self.order = order

    def response_body(self) -> dict[str, Any]:
        return {"error": self.to_dict(), "order": self.order.to_dict()}


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_ref: str
    sku: str
    quantity: int
    quantity_despatched: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_ref": self.line_ref,
            "sku": self.sku,
            "quantity": self.quantity,
            "quantity_despatched": self.quantity_despatched,
        }


Address = tuple[tuple[str, str | None], ...]  # (field, value) in ADDRESS_FIELDS order


@dataclass(frozen=True, slots=True)
class Order:
    reference: str
    warehouse_id: str
    status: str
    ship_method: str
    ship_to: Address
    lines: tuple[OrderLine, ...]
    notes: str | None
    version: int
    created_at: str
    updated_at: str
    cancelled_at: str | None = None
    held_from: str | None = None  # the status an on_hold order left; not serialised
    shipments: tuple[str, ...] = ()  # shipment ids, in despatch order (shipments.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "warehouse_id": self.warehouse_id,
            "status": self.status,
            "ship_method": self.ship_method,
            "ship_to": dict(self.ship_to),
            "lines": [line.to_dict() for line in self.lines],
            "notes": self.notes,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "cancelled_at": self.cancelled_at,
            "shipments": list(self.shipments),
        }


@dataclass(frozen=True, slots=True)
class OrderRules:
    """What a create or amendment is checked against; `warehouses` and `items` are live views."""

    warehouses: Container[str]
    items: ItemCatalog
    ship_methods: Sequence[str]


@dataclass(frozen=True, slots=True)
class Amendment:
    """The fields a PATCH gave (None: not given); `notes` is (given, value) since null clears it."""

    ship_method: str | None = None
    ship_to: Address | None = None
    lines: tuple[OrderLine, ...] | None = None
    notes: tuple[bool, str | None] = (False, None)


def _object(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ClarusError("invalid_body", "request body must be a JSON object", None, 400)
    return raw


def check_reference(value: object, field: str = "reference") -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= MAX_REFERENCE
        or value != value.strip()
        or "/" in value
        or not value.isprintable()
    ):
        raise invalid_field(
            field,
            f"must be 1..{MAX_REFERENCE} printable characters without '/' or leading/trailing spaces",
        )
    return value


def _ship_method(value: object, rules: OrderRules) -> str:
    if value is None:
        raise invalid_field("ship_method", "is required")
    if not isinstance(value, str) or value not in rules.ship_methods:
        raise ClarusError(
            "unknown_ship_method",
            f"ship_method {value!r} is not one of this warehouse's services: {', '.join(rules.ship_methods)}",
            "ship_method",
        )
    return value


def parse_address(raw: object) -> Address:
    if not isinstance(raw, dict):
        raise ClarusError("invalid_address", "ship_to must be an address object", "ship_to")
    known = {name for name, _, _ in ADDRESS_FIELDS}
    unknown = set(raw) - known
    if unknown:
        name = sorted(unknown)[0]
        raise ClarusError("invalid_address", f"ship_to.{name}: unknown field", f"ship_to.{name}")
    values: list[tuple[str, str | None]] = []
    for name, required, max_len in ADDRESS_FIELDS:
        field, value = f"ship_to.{name}", raw.get(name)
        if value is not None and not isinstance(value, str):
            raise ClarusError("invalid_address", f"{field}: must be a string", field)
        value = (value.strip() or None) if value else None
        if value is None:
            if required:
                raise ClarusError("invalid_address", f"{field}: is required", field)
        elif len(value) > max_len:
            raise ClarusError("invalid_address", f"{field}: at most {max_len} characters", field)
        elif name == "country" and value not in COUNTRIES:
            message = f"{field}: {value!r} is not an ISO 3166-1 alpha-2 code (upper case, e.g. GB, US)"
            raise ClarusError("invalid_address", message, field)
        elif name == "email" and not _looks_like_email(value):
            raise ClarusError("invalid_address", f"{field}: not an email address", field)
        values.append((name, value))
    return tuple(values)


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and "." in domain.strip(".") and " " not in value)


def check_line_ref(line: object, where: str, fields: frozenset[str] | set[str], seen: set[str]) -> str:
    """A request line's `line_ref`, checked: an object with known fields and a ref not seen before."""
    if not isinstance(line, dict):
        raise invalid_field(where, "must be an object")
    unknown = set(line) - set(fields)
    if unknown:
        raise invalid_field(f"{where}.{sorted(unknown)[0]}", "unknown field")
    line_ref = line.get("line_ref")
    if not isinstance(line_ref, str) or not 0 < len(line_ref) <= MAX_LINE_REF:
        raise invalid_field(f"{where}.line_ref", f"must be a string of 1..{MAX_LINE_REF} characters")
    if line_ref in seen:
        raise ClarusError("duplicate_line_ref", f"line_ref {line_ref!r} appears twice", f"{where}.line_ref")
    seen.add(line_ref)
    return line_ref


def check_line_quantity(quantity: object, where: str) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_LINE_QUANTITY:
        raise invalid_field(f"{where}.quantity", f"must be an integer in 1..{MAX_LINE_QUANTITY}")
    return quantity


def parse_lines(raw: object, rules: OrderRules) -> tuple[OrderLine, ...]:
    if not isinstance(raw, list) or not raw:
        raise invalid_field("lines", "must be a non-empty list of lines")
    if len(raw) > MAX_LINES:
        raise invalid_field("lines", f"at most {MAX_LINES} lines per order")
    lines: list[OrderLine] = []
    seen: set[str] = set()
    for i, line in enumerate(raw):
        where = f"lines[{i}]"
        line_ref = check_line_ref(line, where, LINE_FIELDS, seen)
        sku = check_sku(line.get("sku"), f"{where}.sku")
        item = rules.items.get(sku)
        if item is None:
            raise ClarusError("unknown_sku", f"no item {sku!r} in the product master", f"{where}.sku")
        if not item.active:
            raise ClarusError("inactive_sku", f"item {sku!r} is inactive", f"{where}.sku")
        lines.append(OrderLine(line_ref, sku, check_line_quantity(line.get("quantity"), where)))
    return tuple(lines)


def _notes(value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > MAX_NOTES):
        raise invalid_field("notes", f"must be a string of at most {MAX_NOTES} characters, or null")
    return value


def create_reference(raw: object) -> str:
    """The reference of a create body, checked first: an existing one answers 409 whatever else is sent."""
    body = _object(raw)
    unknown = set(body) - CREATE_FIELDS
    if unknown:
        raise invalid_field(sorted(unknown)[0], "unknown field")
    return check_reference(body.get("reference"))


def new_order(raw: object, rules: OrderRules, now: str) -> Order:
    """Validate a create body completely (first error wins) and build the `received` order."""
    body = _object(raw)
    reference = create_reference(body)
    warehouse_id = body.get("warehouse_id")
    if not isinstance(warehouse_id, str) or not warehouse_id:
        raise invalid_field("warehouse_id", "is required")
    if warehouse_id not in rules.warehouses:
        raise ClarusError("unknown_warehouse", f"no warehouse {warehouse_id!r}", "warehouse_id")
    ship_method = _ship_method(body.get("ship_method"), rules)
    if "ship_to" not in body:
        raise ClarusError("invalid_address", "ship_to is required", "ship_to")
    ship_to = parse_address(body["ship_to"])
    lines = parse_lines(body.get("lines"), rules)
    notes = _notes(body.get("notes"))
    return Order(reference, warehouse_id, "received", ship_method, ship_to, lines, notes, 1, now, now)


def parse_amendment(raw: object, rules: OrderRules) -> Amendment:
    body = _object(raw)
    refused = sorted(set(body) - AMEND_FIELDS)
    if refused:
        name = refused[0]
        raise invalid_field(name, "cannot be changed" if name in CREATE_FIELDS else "unknown field")
    return Amendment(
        ship_method=_ship_method(body["ship_method"], rules) if "ship_method" in body else None,
        ship_to=parse_address(body["ship_to"]) if "ship_to" in body else None,
        lines=parse_lines(body["lines"], rules) if "lines" in body else None,
        notes=(True, _notes(body["notes"])) if "notes" in body else (False, None),
    )


def ensure_editable(order: Order) -> None:
    """409 unless the order may still be amended or cancelled (before picking starts)."""
    if order.status == "cancelled":
        raise OrderConflict("order_cancelled", "order is cancelled", order)
    if order.status not in EDITABLE:
        started = "picking has started" if order.status in ("picking", "packed") else "order has despatched"
        raise OrderConflict("order_locked", started, order)


def amended(order: Order, amendment: Amendment, now: str) -> Order | None:
    """The order with the amendment applied (version + 1), or None when it changes nothing."""
    ensure_editable(order)
    changes: dict[str, Any] = {}
    if amendment.ship_method is not None and amendment.ship_method != order.ship_method:
        changes["ship_method"] = amendment.ship_method
    if amendment.ship_to is not None and amendment.ship_to != order.ship_to:
        changes["ship_to"] = amendment.ship_to
    if amendment.lines is not None and amendment.lines != order.lines:
        changes["lines"] = amendment.lines
    given, notes = amendment.notes
    if given and notes != order.notes:
        changes["notes"] = notes
    if not changes:
        return None
    return dataclasses.replace(order, **changes, version=order.version + 1, updated_at=now)


def cancelled(order: Order, now: str) -> Order | None:
    """The cancelled order, or None when it already was (a retried cancel)."""
    if order.status == "cancelled":
        return None
    ensure_editable(order)
    return dataclasses.replace(
        order, status="cancelled", version=order.version + 1, updated_at=now, cancelled_at=now, held_from=None
    )


def advanced(order: Order, target: object, now: str) -> Order | None:
    """Move the order forward (simulator control); None when it already has `target`."""
    if target not in ADVANCE_TARGETS:
        raise invalid_field("status", f"must be one of {', '.join(ADVANCE_TARGETS)}")
    assert isinstance(target, str)
    if order.status == target:
        return None
    if order.status == "cancelled":
        raise OrderConflict("order_cancelled", "order is cancelled", order)
    held_from = None
    if target == "on_hold":
        allowed = order.status in HOLDABLE
        held_from = order.status
    else:
        base = order.held_from if order.status == "on_hold" else order.status
        allowed = base in FLOW and FLOW.index(target) >= FLOW.index(base) + (order.status != "on_hold")
    if not allowed:
        raise OrderConflict(
            "invalid_transition", f"an order that is {order.status} cannot move to {target}", order, "status"
        )
    return dataclasses.replace(
        order, status=target, version=order.version + 1, updated_at=now, held_from=held_from
    )
