"""Magento stores in the oracle: what each Magento order should be at Clarus, and what each MSI
source should show. Imports nothing of the hub's (see `oracle/__init__.py`).

Orders, re-stated from docs/connectors/magento.md and ../shared/reference/magento.md, not from the
connector: the order's reference is the store's prefix plus its `increment_id`; it goes to the
warehouse once its `status` is one the store releases and its `state` is not `canceled`. The
warehouse ships stock items, so a bundle's parent item is no line: each of its child items (those
whose `parent_item_id` is the bundle's `item_id`) is, for the child's `qty_ordered` (already the
bundles ordered times the component's quantity in one bundle). A configurable's parent item carries
the chosen simple's SKU: one line for it, its quantities the parent's. Virtual items ship nothing.
A line's quantity is what is still wanted (`qty_ordered` less `qty_canceled`); lines are numbered 1..n
in the order's item order. The shipping description is the ship method, mapped as any. Each Magento
order is written as the IMS order it stands for and judged by `check_orders`.

Shipments (docs/fulfilment.md, decision 0023, as for Shopify): each Clarus shipment of a Magento
order (its reference the prefix + `increment_id`) that carries tracking is exactly one Magento shipment
with that tracking number (lost / doubled), and no Magento shipment names a number Clarus never
shipped; per warehouse line n (`line_ref` n, or on route ims the IMS line whose item is that SKU),
the item's `qty_shipped` is the units Clarus shipped on it; the order is `complete` exactly when
every line has shipped in full.

Stock: the same rule as every channel's (`stock.expected_figures`, DESIGN.md §3), at the MSI source
the store's `locations` map gives the warehouse; with `subtract_open_demand` (the storefront
default) the units the warehouse's own orders claim and have not allocated come off
(`demand.take_off_open_demand`). What the store shows is each source item's `quantity` in the Magento
simulator's `GET /_control/source-items` (docs/simulators/magento.md). A source item the store does
not have is not judged (the hub is told to set only figures it read).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from stockbridge.oracle.catalog import Catalog
from stockbridge.oracle.demand import take_off_open_demand
from stockbridge.oracle.orders import OrderReport, check_orders
from stockbridge.oracle.settings import OracleSettings
from stockbridge.oracle.stock import Drift, Key, drift, expected_figures

_RELEASED, _WAITING, _CANCELLED = "B", "A", "C"
_PARENT_TYPES = frozenset({"bundle", "configurable"})


def _line_items(order: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(SKU, the item whose quantities count) of each warehouse line, in the order's item order."""
    items = list(order.get("items") or [])
    by_id = {int(item["item_id"]): item for item in items}
    lines: list[tuple[str, Mapping[str, Any]]] = []
    for item in items:
        if str(item.get("product_type")) in _PARENT_TYPES or int(item.get("is_virtual") or 0):
            continue
        parent = by_id.get(int(item["parent_item_id"])) if item.get("parent_item_id") else None
        counted = parent if parent is not None and parent.get("product_type") == "configurable" else item
        lines.append((str(item["sku"]), counted))
    return lines


def _wanted(item: Mapping[str, Any]) -> int:
    return round(float(item["qty_ordered"])) - round(float(item.get("qty_canceled") or 0))


def warehouse_lines(order: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(SKU, quantity still wanted) of each line the warehouse should ship, in the order's item
    order: bundles by their components, configurables by their simple, virtual items dropped."""
    return [(sku, _wanted(item)) for sku, item in _line_items(order)]


def as_order_view(order: Mapping[str, Any], prefix: str, release_statuses: frozenset[str]) -> dict[str, Any]:
    """A Magento order (REST shape) as the IMS control API lists an order, for `check_orders`."""
    if str(order.get("state")) == "canceled":
        status = _CANCELLED
    else:
        status = _RELEASED if str(order.get("status") or "").lower() in release_statuses else _WAITING
    assignments = (order.get("extension_attributes") or {}).get("shipping_assignments") or [{}]
    address = (assignments[0].get("shipping") or {}).get("address")
    street = list((address or {}).get("street") or [])
    return {
        "tranId": prefix + str(order["increment_id"]),
        "status": status,
        "shipMethod": order.get("shipping_description") or None,
        "shippingAddress": None
        if not address
        else {
            "addressee": " ".join(p for p in (address.get("firstname"), address.get("lastname")) if p),
            "addr1": street[0] if street else None,
            "addr2": ", ".join(str(s) for s in street[1:]) or None,
            "city": address.get("city"),
            "state": address.get("region_code") or address.get("region"),
            "zip": address.get("postcode"),
            "country": address.get("country_id"),
        },
        "lines": [
            {"line": n, "itemId": sku, "quantity": qty, "quantityFulfilled": 0, "isClosed": qty == 0}
            for n, (sku, qty) in enumerate(warehouse_lines(order), start=1)
        ],
    }


def check_magento_orders(
    magento_orders: list[Mapping[str, Any]],
    clarus_orders: Mapping[str, Any],
    catalog: Catalog,
    settings: OracleSettings,
    *,
    prefix: str,
    release_statuses: frozenset[str] = frozenset({"processing"}),
    frozen: Mapping[str, Any] | None = None,
) -> OrderReport:
    """Each Magento order (the simulator's `GET /_control/orders`) against Clarus."""
    views = {v["tranId"]: v for v in (as_order_view(o, prefix, release_statuses) for o in magento_orders)}
    released = replace(settings, release_statuses=frozenset({_RELEASED}))
    return check_orders(views, clarus_orders, catalog, released, frozen)


def read_source_items(http: httpx.Client, store_url: str) -> dict[str, Any]:
    """The Magento simulator's source items (`GET /_control/source-items`)."""
    response = http.get(f"{store_url.rstrip('/')}/_control/source-items")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def source_figures(source_items: Mapping[str, Any], sources: set[str]) -> dict[Key, int]:
    """(SKU, source code) → `quantity`, at the sources the hub feeds."""
    return {
        (str(row["sku"]), str(row["source_code"])): round(float(row["quantity"]))
        for row in source_items["items"]
        if str(row["source_code"]) in sources
    }


def magento_drift(
    clarus_state: Mapping[str, Any],
    source_items: Mapping[str, Any],
    settings: OracleSettings,
    channel: str,
    *,
    clarus_orders: Mapping[str, Any] | None = None,
) -> Drift:
    """The Magento channel's drift from the warehouse, both read from the simulators. With
    `clarus_orders`, the units they claim and have not allocated come off the expected figures."""
    locations = settings.channel_locations(channel)
    shown = source_figures(source_items, set(locations.values()))
    expected = expected_figures(clarus_state, settings, channel)
    if clarus_orders is not None:
        expected = take_off_open_demand(expected, clarus_orders, locations)
    return drift({k: v for k, v in expected.items() if k in shown}, shown)


@dataclass
class ShipmentReport:
    shipments: int = 0  # Clarus shipments of the store's orders
    magento_shipments: int = 0
    with_tracking: int = 0  # Magento shipments carrying a tracking number
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # "<reference>/<sku>" shipped quantities
    status: list[str] = field(default_factory=list)  # orders complete when they should not be, or not

    @property
    def problems(self) -> int:
        return sum(len(x) for x in (self.lost, self.doubled, self.unexpected, self.wrong, self.status))


def check_magento_shipments(
    magento_orders: Sequence[Mapping[str, Any]],
    clarus_shipments: Mapping[str, Mapping[str, Any]],
    *,
    prefix: str,
    ims_orders: Mapping[str, Mapping[str, Any]] | None = None,
) -> ShipmentReport:
    """`magento_orders`: the simulator's orders each with its `shipments` (`GET /_control/orders/{id}`).
    `ims_orders` given (by tranId): the store's route is ims, and a line_ref is the IMS order's line."""
    report = ShipmentReport()
    by_reference: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for shipment in clarus_shipments.values():
        by_reference[str(shipment["reference"])].append(shipment)
    for order in magento_orders:
        reference = prefix + str(order["increment_id"])
        _check_shipments(report, order, reference, by_reference.get(reference, []), ims_orders)
    return report


def _check_shipments(
    report: ShipmentReport,
    order: Mapping[str, Any],
    reference: str,
    shipments: Sequence[Mapping[str, Any]],
    ims_orders: Mapping[str, Mapping[str, Any]] | None,
) -> None:
    made = list(order.get("shipments") or [])
    report.shipments += len(shipments)
    report.magento_shipments += len(made)
    numbers_of = [{str(t["track_number"]) for t in m.get("tracks") or []} for m in made]
    report.with_tracking += sum(1 for n in numbers_of if n)
    shipped_numbers: set[str] = set()
    for shipment in shipments:
        numbers = [str(n) for n in shipment.get("tracking_numbers") or []]
        if not numbers:
            continue
        shipped_numbers.update(numbers)
        found = sum(1 for n in numbers_of if numbers[0] in n)
        if found == 0:
            report.lost.append(str(shipment["shipment_id"]))
        elif found > 1:
            report.doubled.append(str(shipment["shipment_id"]))
    for m, tracks in zip(made, numbers_of, strict=True):
        if tracks and not tracks & shipped_numbers:
            report.unexpected.append(str(m["entity_id"]))
    lines = _line_items(order)
    if ims_orders is None:
        line_of = {n: n for n in range(1, len(lines) + 1)}
    else:  # the IMS line n is the Magento line of the same SKU
        position = {sku: n for n, (sku, _) in enumerate(lines, start=1)}
        ims_lines = (ims_orders.get(reference) or {}).get("lines", [])
        line_of = {
            int(li["line"]): position[str(li["itemId"])] for li in ims_lines if str(li["itemId"]) in position
        }
    units: dict[int, int] = defaultdict(int)
    for shipment in shipments:
        for line in shipment["lines"]:
            number = line_of.get(int(str(line["line_ref"]).partition(".")[0]))
            if number is None:
                report.wrong.append(f"{reference}/line {line['line_ref']} is not on the order")
                continue
            units[number] += int(line["quantity"])
    complete = True
    for n, (sku, item) in enumerate(lines, start=1):
        shown = round(float(item.get("qty_shipped") or 0))
        if shown != units.get(n, 0):
            report.wrong.append(f"{reference}/{sku}: shipped {units.get(n, 0)}, Magento shows {shown}")
        complete = complete and shown >= _wanted(item)
    if lines and complete != (str(order.get("state")) == "complete"):
        report.status.append(f"{reference}: state {order.get('state')}")
