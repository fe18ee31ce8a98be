"""Input of a sales order's transforms: the header of an item fulfilment or invoice (external id,
memo, date, ship status, ship method, the `package` sublist), the invoice's lines and the billing
plan (what may be billed: fulfilled and not yet billed)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import as_id, invalid_content, invalid_field_value, missing_value
from .order_input import SHIP_STATUS_NAMES, active, number, quantity, ref, text

Row = dict[str, Any]
PACKAGE_FIELDS = ("packageTrackingNumber", "packageWeight", "packageDescr")


@dataclass(frozen=True)
class Package:
    """One line of an item fulfilment's `package` sublist."""

    tracking_number: str | None
    weight: float | None
    description: str | None


@dataclass
class DocumentHeader:
    """Header fields of a new item fulfilment or invoice (the transform body minus its lines)."""

    external_id: str | None = None
    memo: str | None = None
    tran_date: str | None = None  # None: today (the clock's date)
    ship_status: str = "C"
    ship_method: int | None = None
    ship_method_set: bool = False  # False: the order's ship method
    packages: list[Package] = field(default_factory=list)


@dataclass(frozen=True)
class BillLine:
    order_line: int
    quantity: float | None  # None: all the line's fulfilled, unbilled quantity
    path: str


def tran_date(value: object, path: str = "tranDate") -> str:
    try:
        return datetime.strptime(str(value), "%Y-%m-%d").strftime("%Y-%m-%d")
    except ValueError:
        raise invalid_field_value(value, "trandate", path) from None


def parse_header(conn: sqlite3.Connection, body: Mapping[str, Any], *, fulfilment: bool) -> DocumentHeader:
    """`externalId`, `memo`, `tranDate`; for a fulfilment also `shipStatus`, `shipMethod`, `package`."""
    header = DocumentHeader(
        external_id=text(body.get("externalId"), "externalid", "externalId"),
        memo=text(body.get("memo"), "memo", "memo"),
    )
    if body.get("tranDate") is not None:
        header.tran_date = tran_date(body["tranDate"])
    if not fulfilment:
        return header
    raw_status = body.get("shipStatus", "C")
    status = raw_status.get("id") if isinstance(raw_status, dict) else raw_status
    if status not in SHIP_STATUS_NAMES:
        raise invalid_field_value(status, "shipstatus", "shipStatus")
    header.ship_status = str(status)
    if "shipMethod" in body:
        header.ship_method_set = True
        raw = body["shipMethod"]
        header.ship_method = None if raw is None else ref(conn, raw, "shipitem", "shipMethod", active())
    header.packages = parse_packages(body.get("package"))
    return header


def parse_packages(value: object) -> list[Package]:
    """NetSuite's `package` sublist: `{"items": [{"packageTrackingNumber", "packageWeight",
    "packageDescr"}]}` (field names of the Item Fulfillment package sublist)."""
    if value is None:
        return []
    lines = value.get("items") if isinstance(value, dict) else None
    if not isinstance(lines, list):
        raise invalid_content('The package sublist must be {"items": [...]}.', "package")
    packages = []
    for n, line in enumerate(lines):
        path = f"package.items[{n}]"
        if not isinstance(line, dict):
            raise invalid_content("Each package must be an object.", path)
        if all(line.get(name) is None for name in PACKAGE_FIELDS):
            raise missing_value("Package Tracking Number", f"{path}.packageTrackingNumber")
        weight = line.get("packageWeight")
        if weight is not None:
            weight = number(weight, "packageweight", f"{path}.packageWeight")
            if weight <= 0:
                raise invalid_field_value(weight, "packageweight", f"{path}.packageWeight")
        tracking = text(
            line.get("packageTrackingNumber"), "packagetrackingnumber", f"{path}.packageTrackingNumber"
        )
        packages.append(
            Package(tracking, weight, text(line.get("packageDescr"), "packagedescr", f"{path}.packageDescr"))
        )
    return packages


def parse_bill_lines(body: Mapping[str, Any]) -> list[BillLine]:
    """The invoice's `item.items` (`{"orderLine", "quantity"?}`); none listed: bill everything."""
    sublist = body.get("item")
    if sublist is None:
        return []
    lines = sublist.get("items") if isinstance(sublist, dict) else None
    if not isinstance(lines, list):
        raise invalid_content('The item sublist must be {"items": [...]}.', "item")
    parsed = []
    for n, line in enumerate(lines):
        path = f"item.items[{n}]"
        if not isinstance(line, dict):
            raise invalid_content("Each line must be an object.", path)
        order_line = as_id(line.get("orderLine"))
        if order_line is None:
            raise missing_value("Order Line", f"{path}.orderLine")
        amount = None if line.get("quantity") is None else quantity(line["quantity"], f"{path}.quantity")
        parsed.append(BillLine(order_line, amount, path))
    return parsed


def billable(line: Mapping[str, Any]) -> float:
    """What a sales order line may still bill: fulfilled and not yet billed."""
    return float(line["quantityshiprecv"] or 0) - float(line["quantitybilled"] or 0)


def bill_plan(order: Mapping[int, Row], lines: Sequence[BillLine]) -> list[tuple[Row, float]]:
    """(order line, quantity) to bill. No lines: every line's fulfilled, unbilled quantity. Listed
    lines: only those, each for at most what is fulfilled and not billed (over-billing is refused)."""
    plan: list[tuple[Row, float]] = []
    if not lines:
        plan = [(ln, billable(ln)) for ln in order.values() if billable(ln) > 1e-9]
    listed: dict[int, float] = {}
    for req in lines:
        line = order.get(req.order_line)
        if line is None:
            raise invalid_content(f"The sales order has no line {req.order_line}.", f"{req.path}.orderLine")
        left = billable(line) - listed.get(req.order_line, 0.0)
        amount = left if req.quantity is None else req.quantity
        if amount > left + 1e-9 or amount <= 0:
            raise invalid_content(
                f"You cannot bill more than the quantity fulfilled and not yet billed ({max(left, 0):g}) "
                f"of line {req.order_line}.",
                f"{req.path}.quantity",
            )
        listed[req.order_line] = listed.get(req.order_line, 0.0) + amount
        plan.append((line, amount))
    return sorted(plan, key=lambda entry: int(entry[0]["linesequencenumber"]))
