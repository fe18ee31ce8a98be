"""Sales order input: record-API bodies (`salesOrder` JSON) and control-API specs, validated against
the current state and turned into one `OrderChange` that sales_orders.py applies."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import catalog
from .errors import as_id, invalid_content, invalid_field_value, missing_value

STATUS_NAMES = {
    "A": "Pending Approval",
    "B": "Pending Fulfillment",
    "C": "Cancelled",
    "D": "Partially Fulfilled",
    "E": "Pending Billing/Partially Fulfilled",
    "F": "Pending Billing",
    "G": "Billed",
    "H": "Closed",
}
SHIP_STATUS_NAMES = {"A": "Picked", "B": "Packed", "C": "Shipped"}
COUNTRIES = {
    "GB": "United Kingdom", "US": "United States", "IE": "Ireland", "DE": "Germany", "FR": "France",
    "NL": "Netherlands", "BE": "Belgium", "ES": "Spain", "IT": "Italy", "CA": "Canada", "AU": "Australia",
}  # fmt: skip
ADDRESS_FIELDS = ("addressee", "addr1", "addr2", "city", "state", "zip", "country", "addrPhone")

Row = dict[str, Any]


@dataclass
class LineChange:
    """One line of an order body: `line` set = update that line, else a new line."""

    path: str
    line: int | None = None
    item: int | None = None
    quantity: float | None = None
    rate: float | None = None
    description: str | None = None
    is_closed: bool | None = None
    location: int | None = None


@dataclass
class OrderChange:
    header: dict[str, object] = field(default_factory=dict)  # transaction column -> value
    address: dict[str, Any] | None = None  # the fields sent; None values clear a field
    address_set: bool = False
    clear_address: bool = False
    lines: list[LineChange] = field(default_factory=list)


@dataclass(frozen=True)
class FulfilLine:
    order_line: int
    quantity: float | None  # None: the line's remaining quantity
    location: int | None
    receive: bool
    path: str


# --- shared checks -------------------------------------------------------------------------------
def quantity(value: object, path: str, *, zero_ok: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid_field_value(value, "quantity", path)
    if value < 0 or (value == 0 and not zero_ok):
        raise invalid_content(
            f"Error while accessing resource: The quantity must be above 0 ({value}).", path
        )
    return float(value)


def number(value: object, column: str, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid_field_value(value, column, path)
    return float(value)


def text(value: object, column: str, path: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise invalid_field_value(value, column, path)
    return value


def ref(conn: sqlite3.Connection, value: object, table: str, path: str, where: str = "") -> int:
    """A reference `{"id": ...}` (or a bare id) to an existing row of `table`."""
    raw = value.get("id") if isinstance(value, dict) else value
    rid = as_id(raw)
    query = f"SELECT id FROM {table} WHERE id = ?{where}"
    if rid is None or conn.execute(query, (rid,)).fetchone() is None:
        raise invalid_field_value(raw, path.rsplit(".", 1)[-1].lower(), path)
    return rid


def sellable_item(conn: sqlite3.Connection, item_id: int, path: str, *, inactive_ok: bool = False) -> int:
    """An inventory or kit item; inactive ones only with `inactive_ok` (the control API seeds orders
    as they may exist in an account, e.g. placed before their item was made inactive)."""
    row = conn.execute("SELECT itemid, itemtype, isinactive FROM item WHERE id = ?", (item_id,)).fetchone()
    if row is None or row["itemtype"] not in ("InvtPart", "Kit"):
        raise invalid_field_value(item_id, "item", path)
    if row["isinactive"] == "T" and not inactive_ok:
        raise invalid_content(
            f"Error while accessing resource: The item {row['itemid']} (internal id {item_id}) is "
            "inactive. You cannot use an inactive item in a transaction.",
            path,
        )
    return item_id


def address(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid_content("The address must be an object.", path)
    parsed: dict[str, Any] = {}
    for name in ADDRESS_FIELDS:
        if name not in value:
            continue
        raw = value[name]
        if name == "country" and raw is not None:
            code = raw.get("id") if isinstance(raw, dict) else raw
            if not isinstance(code, str) or len(code) != 2 or not code.isalpha():
                raise invalid_field_value(code, "country", f"{path}.country")
            parsed[name] = code.upper()
        else:
            parsed[name] = text(raw, name.lower(), f"{path}.{name}")
    return parsed


def address_text(fields: Mapping[str, Any] | None) -> str | None:
    """The formatted `shipAddress` text (NetSuite's exact layout is UNCONFIRMED)."""
    if not fields:
        return None
    country = fields.get("country")
    city = " ".join(str(fields[k]) for k in ("city", "state", "zip") if fields.get(k))
    parts = [fields.get("addressee"), fields.get("addr1"), fields.get("addr2"), city]
    parts.append(COUNTRIES.get(country, country) if country else None)
    return "\n".join(str(p) for p in parts if p) or None


# --- record API (salesOrder JSON) ----------------------------------------------------------------
def parse_record(conn: sqlite3.Connection, body: Mapping[str, Any], *, creating: bool) -> OrderChange:
    change = OrderChange()
    head = change.header
    for prop, column in (
        ("externalId", "externalid"),
        ("memo", "memo"),
        ("tranId", "tranid"),
        ("email", "email"),
    ):
        if prop in body:
            head[column] = text(body[prop], column, prop)
    if creating or "entity" in body:
        if body.get("entity") is None:
            raise missing_value("Customer", "entity")
        head["entity"] = ref(conn, body["entity"], "customer", "entity")
    if "orderStatus" in body:
        raw = body["orderStatus"]
        status = raw.get("id") if isinstance(raw, dict) else raw
        if status not in ("A", "B"):
            raise invalid_field_value(status, "orderstatus", "orderStatus")
        head["status"] = status
    if "shipMethod" in body:
        raw = body["shipMethod"]
        head["shipmethod"] = None if raw is None else ref(conn, raw, "shipitem", "shipMethod", active())
    if body.get("location") is not None:
        head["location"] = ref(conn, body["location"], "location", "location", active())
    if body.get("tranDate") is not None:
        try:
            head["trandate"] = datetime.strptime(str(body["tranDate"]), "%Y-%m-%d").strftime("%Y-%m-%d")
        except ValueError:
            raise invalid_field_value(body["tranDate"], "trandate", "tranDate") from None
    if "shippingAddress" in body:
        set_address(change, body["shippingAddress"], "shippingAddress")
    sublist = body.get("item")
    lines = sublist.get("items") if isinstance(sublist, dict) else None
    if sublist is not None and not isinstance(lines, list):
        raise invalid_content('The item sublist must be {"items": [...]}.', "item")
    for n, line in enumerate(lines or []):
        change.lines.append(_record_line(conn, line, f"item.items[{n}]", creating))
    if creating and not change.lines:
        raise invalid_content("You must enter at least one line item for this transaction.", "item.items")
    return change


def active() -> str:
    return " AND isinactive = 'F'"


def set_address(change: OrderChange, value: object, path: str) -> None:
    change.address_set = True
    if value is None:
        change.clear_address = True
    else:
        change.address = address(value, path)


def _record_line(conn: sqlite3.Connection, line: object, path: str, creating: bool) -> LineChange:
    if not isinstance(line, dict):
        raise invalid_content("Each line must be an object.", path)
    change = LineChange(path)
    if line.get("line") is not None and not creating:
        change.line = as_id(line["line"])
        if change.line is None:
            raise invalid_field_value(line["line"], "line", f"{path}.line")
    if line.get("item") is not None:
        change.item = sellable_item(conn, ref(conn, line["item"], "item", f"{path}.item"), f"{path}.item")
    elif change.line is None:
        raise missing_value("Item", f"{path}.item")
    if line.get("quantity") is not None:
        change.quantity = quantity(line["quantity"], f"{path}.quantity")
    elif change.line is None:
        raise missing_value("Quantity", f"{path}.quantity")
    if line.get("rate") is not None:
        change.rate = number(line["rate"], "rate", f"{path}.rate")
    change.description = text(line.get("description"), "description", f"{path}.description")
    if line.get("isClosed") is not None:
        if not isinstance(line["isClosed"], bool):
            raise invalid_field_value(line["isClosed"], "isclosed", f"{path}.isClosed")
        change.is_closed = line["isClosed"]
    if line.get("location") is not None:
        change.location = ref(conn, line["location"], "location", f"{path}.location", active())
    return change


# --- control API ---------------------------------------------------------------------------------
def parse_control(conn: sqlite3.Connection, spec: Mapping[str, Any], *, creating: bool) -> OrderChange:
    """`{"tranId"?, "externalId"?, "status"?, "customer"?, "shipMethod"?, "shippingAddress"?,
    "location"?, "memo"?, "lines": [{"itemId", "quantity", "rate"?, "description"?} |
    {"line", "quantity"?, "isClosed"?, "itemId"?, "rate"?}]}` (names, not ids)."""
    change = OrderChange()
    head = change.header
    for prop, column in (
        ("tranId", "tranid"),
        ("externalId", "externalid"),
        ("memo", "memo"),
        ("email", "email"),
    ):
        if prop in spec:
            head[column] = text(spec[prop], column, prop)
    if creating:
        status = spec.get("status", "B")
        if status not in ("A", "B"):
            raise invalid_content(f"A new order's status is 'A' or 'B', not {status!r}.", "status")
        head["status"] = status
        name = spec.get("customer", catalog.DEFAULT_CUSTOMER[1])
        head["entity"] = catalog.customer_by_name(conn, str(name), create=True)
    elif "customer" in spec:
        head["entity"] = catalog.customer_by_name(conn, str(spec["customer"]), create=True)
    if "shipMethod" in spec:
        method = spec["shipMethod"]
        found = None if method is None else catalog.ship_item_by_name(conn, str(method))
        if method is not None and found is None:
            raise invalid_content(f"Unknown shipMethod {method!r}.", "shipMethod")
        head["shipmethod"] = found
    if spec.get("location") is not None:
        head["location"] = ref(conn, spec["location"], "location", "location")
    if "shippingAddress" in spec:
        set_address(change, spec["shippingAddress"], "shippingAddress")
    lines = spec.get("lines", [])
    if not isinstance(lines, list) or (creating and not lines):
        raise invalid_content("An order needs lines: [{'itemId', 'quantity'}, ...].", "lines")
    for n, line in enumerate(lines):
        change.lines.append(_control_line(conn, line, f"lines[{n}]", creating))
    return change


def _control_line(conn: sqlite3.Connection, line: object, path: str, creating: bool) -> LineChange:
    if not isinstance(line, dict):
        raise invalid_content("Each line must be an object.", path)
    change = LineChange(path)
    if line.get("line") is not None:
        if creating:
            raise invalid_content("A new order's lines have no line numbers.", f"{path}.line")
        change.line = as_id(line["line"])
        if change.line is None:
            raise invalid_content(f"Bad line number {line['line']!r}.", f"{path}.line")
    if line.get("itemId") is not None:
        row = conn.execute(
            "SELECT id FROM item WHERE itemid = ? COLLATE NOCASE", (str(line["itemId"]),)
        ).fetchone()
        if row is None:
            raise invalid_content(f"Unknown itemId {line['itemId']!r}.", f"{path}.itemId")
        change.item = sellable_item(conn, int(row["id"]), f"{path}.itemId", inactive_ok=True)
    elif change.line is None:
        raise invalid_content("A new line needs an itemId.", f"{path}.itemId")
    if line.get("quantity") is not None:
        change.quantity = quantity(line["quantity"], f"{path}.quantity")
    elif change.line is None:
        raise invalid_content("A new line needs a quantity.", f"{path}.quantity")
    if line.get("rate") is not None:
        change.rate = number(line["rate"], "rate", f"{path}.rate")
    change.description = text(line.get("description"), "description", f"{path}.description")
    if line.get("isClosed") is not None:
        if not isinstance(line["isClosed"], bool):
            raise invalid_content("isClosed must be a boolean.", f"{path}.isClosed")
        change.is_closed = line["isClosed"]
    return change


# --- fulfilment input ----------------------------------------------------------------------------
def parse_fulfil_lines(
    conn: sqlite3.Connection, lines: object, path: str, *, transform: bool
) -> list[FulfilLine]:
    """Transform lines `{"orderLine", "quantity"?, "itemreceive"?, "location"?}` or control lines
    `{"line", "quantity"}`."""
    if not isinstance(lines, list) or (not transform and not lines):
        raise invalid_content("You must enter at least one line item for this transaction.", path)
    parsed: list[FulfilLine] = []
    key = "orderLine" if transform else "line"
    for n, line in enumerate(lines):
        where = f"{path}[{n}]"
        if not isinstance(line, dict):
            raise invalid_content("Each line must be an object.", where)
        order_line = as_id(line.get(key))
        if order_line is None:
            raise missing_value("Order Line", f"{where}.{key}")
        receive = line.get("itemreceive", line.get("itemReceive", True))
        if not isinstance(receive, bool):
            raise invalid_field_value(receive, "itemreceive", f"{where}.itemreceive")
        qty = line.get("quantity")
        if qty is None and not transform:
            raise invalid_content("Each line needs a quantity.", f"{where}.quantity")
        amount = None if qty is None else quantity(qty, f"{where}.quantity")
        location = None
        if line.get("location") is not None:
            location = ref(conn, line["location"], "location", f"{where}.location", active())
        parsed.append(FulfilLine(order_line, amount, location, receive, where))
    return parsed


def fulfil_plan(
    order: Mapping[int, Row], lines: Sequence[FulfilLine], unlisted_in_full: bool
) -> list[tuple[Row, float, int | None]]:
    """(order line, quantity, location) to fulfil. Refuses unknown or closed lines and more than a
    line's remaining quantity. With `unlisted_in_full` (the transform), every open line not listed
    is fulfilled for its remaining quantity; `itemreceive: false` leaves a line out."""
    plan: list[tuple[Row, float, int | None]] = []
    listed: dict[int, float] = {}
    for req in lines:
        line = order.get(req.order_line)
        if line is None:
            raise invalid_content(f"The sales order has no line {req.order_line}.", f"{req.path}.orderLine")
        if not req.receive:
            listed.setdefault(req.order_line, 0.0)
            continue
        if line["isclosed"] == "T":
            raise invalid_content(f"Line {req.order_line} is closed.", f"{req.path}.orderLine")
        remaining = line["quantity"] - line["quantityshiprecv"] - listed.get(req.order_line, 0.0)
        amount = remaining if req.quantity is None else req.quantity
        if amount > remaining + 1e-9 or amount <= 0:
            raise invalid_content(
                f"You cannot fulfill more than the remaining quantity ({remaining:g}) of line "
                f"{req.order_line}.",
                f"{req.path}.quantity",
            )
        listed[req.order_line] = listed.get(req.order_line, 0.0) + amount
        plan.append((line, amount, req.location))
    if unlisted_in_full:
        for number, line in sorted(order.items()):
            remaining = line["quantity"] - line["quantityshiprecv"]
            if number not in listed and line["isclosed"] != "T" and remaining > 0:
                plan.append((line, remaining, None))
    return sorted(plan, key=lambda entry: int(entry[0]["linesequencenumber"]))
