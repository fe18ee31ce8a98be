"""The order the warehouse should hold for each IMS sales order, and a check of Clarus against it.

From docs/orders.md: an order goes to the warehouse once its IMS status is one of
`orders.release_statuses` (NetSuite moves it on to D or E only once fulfilment has started, so those
count as released too); what it asks for is each line's open quantity (quantity − fulfilled by hand,
closed lines dropped), kits taken apart into their stock items, SKUs in the warehouse's form, the
ship method mapped. Any problem holds the whole order; a cancelled order, or one with nothing open,
is not (or no longer) live in the warehouse.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stockbridge.oracle.catalog import Catalog, KitProblem, acceptable_in_wms, ship_code, warehouse_sku
from stockbridge.oracle.settings import OracleSettings

FULFILMENT_STARTED = frozenset({"D", "E"})  # NetSuite: partially fulfilled / pending billing, partly
# Clarus statuses from which it takes no edits (docs/simulators/clarus.md, Statuses).
PICKING_STARTED = frozenset({"picking", "packed"})
DESPATCHING = frozenset({"partially_despatched", "despatched"})
REQUIRED_ADDRESS = (("addressee", "name"), ("addr1", "line 1"), ("city", "city"), ("zip", "postcode"))
POSTCODES = {
    "GB": re.compile(r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", re.I),
    "US": re.compile(r"\d{5}(-\d{4})?"),
    "DE": re.compile(r"\d{5}"),
    "FR": re.compile(r"\d{5}"),
}

Line = tuple[str, str, int]  # (line_ref, warehouse SKU, quantity)


@dataclass(frozen=True)
class Expected:
    """What the warehouse should hold for one order: `lines` when live, else why not."""

    reference: str
    live: bool
    lines: tuple[Line, ...] = ()
    ship_method: str = ""
    ship_to: tuple[tuple[str, str | None], ...] = ()
    holds: tuple[str, ...] = ()  # hold reasons (docs/orders.md names), when held
    why_not: str = ""  # held, waiting, cancelled, nothing_open


def open_quantity(line: Mapping[str, Any]) -> int:
    if line.get("isClosed"):
        return 0
    return max(0, round(float(line["quantity"])) - round(float(line.get("quantityFulfilled") or 0)))


def address_problems(address: Mapping[str, Any] | None) -> list[str]:
    if not address:
        return ["no address"]
    problems = [f"{label} missing" for key, label in REQUIRED_ADDRESS if not _text(address.get(key))]
    country = (_text(address.get("country")) or "").upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        problems.append("country is not a two-letter code")
    postcode = _text(address.get("zip"))
    pattern = POSTCODES.get(country)
    if postcode and pattern is not None and not pattern.fullmatch(postcode):
        problems.append(f"postcode {postcode!r} is not a {country} postcode")
    if country == "US" and not _text(address.get("state")):
        problems.append("state missing")
    return problems


def ship_to(address: Mapping[str, Any]) -> tuple[tuple[str, str | None], ...]:
    """The address as Clarus stores it (`ship_to`), compared field by field."""
    pairs = (("name", "addressee"), ("line1", "addr1"), ("line2", "addr2"), ("city", "city"),
             ("region", "state"), ("postcode", "zip"), ("country", "country"))  # fmt: skip
    return tuple((wms, _text(address.get(ims))) for wms, ims in pairs)


def expected_order(order: Mapping[str, Any], catalog: Catalog, settings: OracleSettings) -> Expected:
    """`order` as IMS `GET /_control/sales_orders` lists it."""
    reference = str(order["tranId"])
    status = str(order["status"])
    open_lines = [(int(line["line"]), str(line["itemId"]), open_quantity(line)) for line in order["lines"]]
    open_lines = [line for line in open_lines if line[2] > 0]
    if status == "C":
        return Expected(reference, False, why_not="cancelled")
    if not open_lines:
        return Expected(reference, False, why_not="nothing_open")
    if status not in settings.release_statuses | FULFILMENT_STARTED:
        return Expected(reference, False, why_not="waiting")
    holds: list[str] = []
    lines: list[Line] = []
    for number, sku, quantity in open_lines:
        item = catalog.ims.get(sku)
        if item is None or not item.active:
            holds.append("unknown_item" if item is None else "inactive_item")
            continue
        try:
            parts = catalog.components(sku, quantity)
        except KitProblem:
            holds.append("bad_kit")
            continue
        for index, (part, part_quantity) in enumerate(parts, start=1):
            part_item = catalog.ims.get(part)
            if part_item is None or not part_item.active:
                holds.append("unknown_item" if part_item is None else "inactive_item")
            wms = warehouse_sku(part, settings.sku_rules)
            holds.extend(_warehouse_problems(wms, catalog))
            lines.append((f"{number}.{index}" if item.is_kit else str(number), wms, part_quantity))
    code = ship_code(order.get("shipMethod"), settings.ship_methods)
    if code is None:
        holds.append("unmapped_ship_method")
    address = order.get("shippingAddress")
    if address_problems(address):
        holds.append("incomplete_address")
    if holds:
        return Expected(reference, False, holds=tuple(sorted(set(holds))), why_not="held")
    assert code is not None
    assert address is not None
    return Expected(reference, True, tuple(sorted(lines)), code, ship_to(address))


def _warehouse_problems(wms: str, catalog: Catalog) -> list[str]:
    if not acceptable_in_wms(wms):
        return ["invalid_sku"]
    if wms in catalog.colliding:
        return ["sku_collision"]
    if wms not in catalog.wms:
        return ["unknown_in_wms"]
    return [] if catalog.wms[wms] else ["inactive_in_wms"]


@dataclass
class OrderReport:
    total: int = 0
    released: int = 0  # live in Clarus (not cancelled)
    cancelled: int = 0  # cancelled in Clarus, or cancelled in the IMS before it was sent
    held: Counter[str] = field(default_factory=Counter)  # reason -> orders the oracle expects held
    waiting: int = 0
    locked: int = 0  # picking started in Clarus: checked against what it held then, when known
    mismatched: list[str] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatches(self) -> int:
        return len(self.mismatched)


def check_orders(
    ims_orders: Mapping[str, Any],
    clarus_orders: Mapping[str, Any],
    catalog: Catalog,
    settings: OracleSettings,
    frozen: Mapping[str, Any] | None = None,
) -> OrderReport:
    """Each IMS order against the Clarus order of the same reference.

    `frozen`: Clarus orders as they stood when picking started, for orders edited afterwards (the
    warehouse keeps what it had). An order already despatching is judged by the fulfilment check.
    """
    report = OrderReport()
    for reference, order in sorted(ims_orders.items()):
        report.total += 1
        expected = expected_order(order, catalog, settings)
        in_wms = clarus_orders.get(reference)
        status = None if in_wms is None else str(in_wms["status"])
        if status == "cancelled" or (status is None and expected.why_not == "cancelled"):
            report.cancelled += 1
        elif status is not None:
            report.released += 1
        if expected.why_not == "held":
            report.held.update(expected.holds)
        report.waiting += expected.why_not == "waiting"
        if status in PICKING_STARTED or status in DESPATCHING:
            report.locked += 1
            if frozen is not None and reference in frozen:
                if _lines(in_wms or {}) != _lines(frozen[reference]):
                    _mismatch(report, expected, in_wms, "changed after picking started")
                continue
            if status in DESPATCHING:
                continue
        problem = _difference(expected, in_wms)
        if problem:
            _mismatch(report, expected, in_wms, problem)
    return report


def _difference(expected: Expected, in_wms: Mapping[str, Any] | None) -> str:
    live = in_wms is not None and in_wms["status"] != "cancelled"
    if not expected.live:
        return f"in the warehouse although {expected.why_not}" if live else ""
    if in_wms is None or not live:
        return "missing in the warehouse"
    if _lines(in_wms) != list(expected.lines):
        return "lines differ"
    if in_wms["ship_method"] != expected.ship_method:
        return "ship method differs"
    held_to = in_wms.get("ship_to") or {}
    if tuple((k, _text(held_to.get(k))) for k, _ in expected.ship_to) != expected.ship_to:
        return "address differs"
    return ""


def _mismatch(report: OrderReport, expected: Expected, in_wms: Mapping[str, Any] | None, why: str) -> None:
    report.mismatched.append(expected.reference)
    if len(report.examples) < 5:
        report.examples.append(
            {
                "reference": expected.reference,
                "why": why,
                "expected": list(expected.lines) if expected.live else expected.why_not,
                "holds": list(expected.holds),
                "in_clarus": None
                if in_wms is None
                else {"status": in_wms["status"], "lines": _lines(in_wms)},
            }
        )


def _lines(order: Mapping[str, Any]) -> list[Line]:
    return sorted((str(ln["line_ref"]), str(ln["sku"]), int(ln["quantity"])) for ln in order["lines"])


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None
