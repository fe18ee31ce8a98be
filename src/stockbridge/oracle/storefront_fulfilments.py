"""The storefront fulfilments Clarus's shipments should make in Shopify, judged from the simulators'
own state (docs/fulfilment.md, "Storefront fulfilments"; decision 0023).

Re-written from the documents, importing none of the hub's rules:
- each shipment of a storefront order (reference = prefix + the store's order number) that carries a
  plain line has exactly one Shopify fulfilment with its first tracking number (lost / doubled), with
  the carrier as tracking company; no fulfilment names a tracking number Clarus never shipped;
- a plain shipment line's `line_ref` is the order line it came from: on route clarus the n-th line
  item of the store's order, on route ims the IMS order's line n (that line's item is the store's
  line item with the same SKU); a component line (`"n.m"`) belongs to bundle line n;
- per line item, the fulfilments add up to what shipped: plain units, and bundles in whole bundles
  only (the fewest whole sets the shipped components make);
- the order shows FULFILLED exactly when every line item has shipped in full;
- route ims: every fulfilment comes after its shipment's Item Fulfilment (external id
  `sb-if-<shipment id>`) exists in the IMS: IMS `createdAt` at or before Shopify `created_at`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stockbridge.oracle.catalog import Catalog, KitProblem, warehouse_sku
from stockbridge.oracle.settings import SkuSettings


@dataclass
class StorefrontFulfilmentReport:
    shipments: int = 0
    fulfilments: int = 0
    lost: list[str] = field(default_factory=list)  # shipment ids without their fulfilment
    doubled: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # fulfilments for no shipment
    wrong: list[str] = field(default_factory=list)  # "<order>/<sku>" quantities, or a tracking company
    status: list[str] = field(default_factory=list)  # orders whose fulfilment status is wrong
    early: list[str] = field(default_factory=list)  # route ims: before (or without) the Item Fulfilment

    @property
    def problems(self) -> int:
        return sum(
            len(x) for x in (self.lost, self.doubled, self.unexpected, self.wrong, self.status, self.early)
        )


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def check_storefront_fulfilments(
    shop_orders: Sequence[Mapping[str, Any]],
    clarus_shipments: Mapping[str, Mapping[str, Any]],
    catalog: Catalog,
    sku_rules: SkuSettings,
    *,
    prefix: str,
    ims_orders: Mapping[str, Mapping[str, Any]] | None = None,
    ims_fulfilments: Sequence[Mapping[str, Any]] = (),
) -> StorefrontFulfilmentReport:
    """`ims_orders` given (the IMS control API's orders by tranId): the store's route is ims."""
    report = StorefrontFulfilmentReport()
    by_reference: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for shipment in clarus_shipments.values():
        by_reference[str(shipment["reference"])].append(shipment)
    item_fulfilments = {str(f["externalId"]): f for f in ims_fulfilments if f.get("externalId")}
    for order in shop_orders:
        reference = prefix + str(order["name"]).lstrip("#")
        shipments = sorted(by_reference.get(reference, []), key=lambda s: int(s["sequence"]))
        _check_order(report, order, reference, shipments, catalog, sku_rules, ims_orders, item_fulfilments)
    return report


def _check_order(
    report: StorefrontFulfilmentReport,
    order: Mapping[str, Any],
    reference: str,
    shipments: Sequence[Mapping[str, Any]],
    catalog: Catalog,
    rules: SkuSettings,
    ims_orders: Mapping[str, Mapping[str, Any]] | None,
    item_fulfilments: Mapping[str, Mapping[str, Any]],
) -> None:
    items = list(order["line_items"])
    fulfilments = list(order.get("fulfillments") or [])
    report.shipments += len(shipments)
    report.fulfilments += len(fulfilments)
    # Order line number (the head of a line_ref) -> the store's line item.
    if ims_orders is None:
        line_of = {n: item for n, item in enumerate(items, start=1)}
    else:
        ims = ims_orders.get(reference)
        by_sku = {str(item["sku"]): item for item in items}
        line_of = {}
        for line in (ims or {}).get("lines", []):
            if str(line["itemId"]) in by_sku:
                line_of[int(line["line"])] = by_sku[str(line["itemId"])]
    shipped: dict[int, Counter[str]] = defaultdict(Counter)  # order line -> warehouse SKU -> units
    plain: set[int] = set()
    tracked: dict[str, Mapping[str, Any]] = {}
    for shipment in shipments:
        has_plain = False
        for line in shipment["lines"]:
            head, _, part = str(line["line_ref"]).partition(".")
            shipped[int(head)][str(line["sku"])] += int(line["quantity"])
            if not part:
                plain.add(int(head))
                has_plain = True
        numbers = list(shipment.get("tracking_numbers") or [])
        if not numbers:
            continue
        tracked[str(numbers[0])] = shipment
        made = [f for f in fulfilments if numbers[0] in (f.get("tracking_numbers") or [])]
        if len(made) > 1:
            report.doubled.append(str(shipment["shipment_id"]))
        if not made and has_plain:
            report.lost.append(str(shipment["shipment_id"]))
        for f in made:
            if f.get("tracking_company") != shipment["carrier"]:
                report.wrong.append(f"{shipment['shipment_id']}/tracking company {f.get('tracking_company')}")
    for f in fulfilments:
        number = (f.get("tracking_numbers") or [None])[0]
        source = tracked.get(str(number))
        if source is None:
            report.unexpected.append(str(f["id"]))
            continue
        if ims_orders is not None:
            made_in_ims = item_fulfilments.get(f"sb-if-{source['shipment_id']}")
            if made_in_ims is None or _when(str(f["created_at"])) < _when(str(made_in_ims["createdAt"])):
                report.early.append(str(f["id"]))
    expected: Counter[int] = Counter()  # line item id -> units the fulfilments should add up to
    for number, units in shipped.items():
        item = line_of.get(number)
        if item is None:
            report.wrong.append(f"{reference}/line {number} is not on the order")
            continue
        if number in plain:
            expected[int(item["id"])] += sum(units.values())
            continue
        try:
            per: Counter[str] = Counter()
            for sku, qty in catalog.components(str(item["sku"]), 1):
                per[warehouse_sku(sku, rules)] += qty
        except KitProblem:
            continue
        expected[int(item["id"])] += min(units[sku] // qty for sku, qty in per.items() if qty > 0)
    made_units: Counter[int] = Counter()
    for f in fulfilments:
        for line in f["line_items"]:
            made_units[int(line["id"])] += int(line["quantity"])
    for item in items:
        if made_units[int(item["id"])] != expected[int(item["id"])]:
            report.wrong.append(
                f"{reference}/{item['sku']}: fulfilled {made_units[int(item['id'])]}, "
                f"shipped {expected[int(item['id'])]}"
            )
    complete = all(expected[int(i["id"])] >= int(i["current_quantity"]) for i in items)
    started = any(expected[int(i["id"])] for i in items)
    # Nothing shipped is UNFULFILLED even when nothing is left to ship (an order cancelled whole).
    want = "FULFILLED" if complete and started else "PARTIALLY_FULFILLED" if started else "UNFULFILLED"
    if order.get("display_fulfillment_status") != want:
        report.status.append(f"{reference}: {order.get('display_fulfillment_status')}, expected {want}")
