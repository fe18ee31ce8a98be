"""The Item Fulfilments the Clarus shipments should make in the IMS, and a check of what it shows.

From docs/fulfilment.md: each shipment makes at most one Item Fulfilment, external id
`sb-if-{shipment id}`, on the order whose `tranId` is the shipment's reference; its lines are the
order lines shipped, a bundle's components counted in whole bundles only. Which parcel reports a
bundle depends on the order the hub hears of the parcels in, so the oracle checks what does not:

- a shipment with a plain order line, or with every component of at least one whole bundle, must
  have an Item Fulfilment (lost otherwise), with exactly the plain lines' quantities;
- no shipment has two (doubled), none exists for a shipment Clarus never made (unexpected);
- per order line, the Item Fulfilments add up to the whole bundles and units all its shipments carried;
- a customer notice goes out once per Item Fulfilment, never before it (none for an order made
  from a storefront's: its store tells the customer).

A shipment whose order is not (yet) in the IMS expects nothing: the hub parks it. One whose order
was cancelled or closed in the IMS cannot be fulfilled there: a person must look (docs/fulfilment.md).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stockbridge.oracle.catalog import Catalog, KitProblem, warehouse_sku

EXTERNAL_ID_PREFIX = "sb-if-"
CLOSED = frozenset({"C", "H"})  # NetSuite: cancelled, closed


@dataclass
class FulfilmentReport:
    shipments: int = 0
    item_fulfilments: int = 0  # the hub's (by external id), not those made by hand in the IMS
    must_fulfil: int = 0  # shipments that must have one whatever order the hub heard them in
    waiting_for_order: list[str] = field(default_factory=list)  # order not in the IMS
    order_closed: list[str] = field(default_factory=list)  # cancelled or closed in the IMS: for a person
    shipped_before_order: list[str] = field(default_factory=list)  # despatched before the IMS order existed
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)  # shipment ids or "reference/line" with wrong quantities
    notices: int = 0
    notices_early: int = 0
    notices_doubled: int = 0
    notices_missing: list[str] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.lost)
            + len(self.doubled)
            + len(self.unexpected)
            + len(self.wrong)
            + self.notices_early
            + self.notices_doubled
            + len(self.notices_missing)
        )


def check_fulfilments(
    shipments: Mapping[str, Any],
    ims_orders: Mapping[str, Any],
    fulfilments: Sequence[Mapping[str, Any]],
    catalog: Catalog,
    notices: Sequence[Mapping[str, Any]] | None = None,
    store_prefixes: Sequence[str] = (),
) -> FulfilmentReport:
    """Clarus `GET /_control/shipments`, IMS `GET /_control/sales_orders` and `GET /_control/fulfilments`;
    `notices`: the mails received, each `{"shipment", "if_existed"}` (whether the IMS showed the
    fulfilment when the mail arrived). `store_prefixes`: the storefronts' `reference_prefix`es; an
    IMS order made from a storefront's order is told to the customer by the store, not by a notice
    (docs/fulfilment.md, "Storefront fulfilments")."""
    report = FulfilmentReport(shipments=len(shipments))
    by_shipment: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for made in fulfilments:
        external = str(made.get("externalId") or "")
        if external.startswith(EXTERNAL_ID_PREFIX):
            by_shipment[external.removeprefix(EXTERNAL_ID_PREFIX)].append(made)
    report.item_fulfilments = sum(len(v) for v in by_shipment.values())
    report.doubled = sorted(sid for sid, made in by_shipment.items() if len(made) > 1)
    report.unexpected = sorted(sid for sid in by_shipment if sid not in shipments)

    per_order: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for sid, shipment in sorted(shipments.items(), key=lambda kv: int(kv[1].get("sequence") or 0)):
        order = ims_orders.get(str(shipment["reference"]))
        if order is None:
            report.waiting_for_order.append(sid)
            continue
        if _before(shipment["despatched_at"], order.get("createdDate")):
            report.shipped_before_order.append(sid)
        posted = by_shipment.get(sid, [])
        if not posted and order.get("status") in CLOSED:
            report.order_closed.append(sid)  # the IMS refuses it: raised to operations, not lost
            continue
        per_order[str(shipment["reference"])].append(shipment)
        bundles = _per_bundle(order, catalog)
        plain, whole = _carried(shipment, bundles)
        if plain or any(whole.values()):
            report.must_fulfil += 1
            if not posted:
                report.lost.append(sid)
                continue
        if posted and any(_quantities(posted[0]).get(n, 0) != q for n, q in plain.items()):
            report.wrong.append(sid)

    for reference, carried in per_order.items():
        bundles = _per_bundle(ims_orders[reference], catalog)
        want = _rolled_up(carried, bundles)
        have: Counter[int] = Counter()
        for shipment in carried:
            for made in by_shipment.get(str(shipment["shipment_id"]), [])[:1]:
                have.update(_quantities(made))
        report.wrong += [f"{reference}/{n}" for n in sorted(set(want) | set(have)) if want[n] != have[n]]

    _check_notices(report, notices, by_shipment, shipments, ims_orders, tuple(store_prefixes))
    return report


def _per_bundle(order: Mapping[str, Any], catalog: Catalog) -> dict[int, Counter[str]]:
    """For each bundle line of the order: warehouse SKU -> units in ONE bundle."""
    per: dict[int, Counter[str]] = {}
    for line in order["lines"]:
        item = catalog.ims.get(str(line["itemId"]))
        if item is None or not item.is_kit:
            continue
        try:
            parts = catalog.components(str(line["itemId"]), 1)
        except KitProblem:
            continue
        one: Counter[str] = Counter()
        for sku, quantity in parts:
            one[warehouse_sku(sku, catalog.rules)] += quantity
        per[int(line["line"])] = one
    return per


def _shipped(shipments: Sequence[Mapping[str, Any]]) -> tuple[Counter[int], dict[int, Counter[str]]]:
    """Units of plain order lines, and units of each bundle line's components by SKU."""
    plain: Counter[int] = Counter()
    parts: dict[int, Counter[str]] = defaultdict(Counter)
    for shipment in shipments:
        for line in shipment["lines"]:
            number, _, component = str(line["line_ref"]).partition(".")
            if component:
                parts[int(number)][str(line["sku"])] += int(line["quantity"])
            else:
                plain[int(number)] += int(line["quantity"])
    return plain, parts


def _whole(parts: Counter[str], one: Counter[str]) -> int:
    return min((parts[sku] // per for sku, per in one.items()), default=0)


def _carried(
    shipment: Mapping[str, Any], bundles: dict[int, Counter[str]]
) -> tuple[Counter[int], dict[int, int]]:
    """What this shipment fulfils on its own: plain lines, and whole bundles inside it."""
    plain, parts = _shipped([shipment])
    return plain, {n: _whole(p, bundles[n]) for n, p in parts.items() if n in bundles}


def _rolled_up(shipments: Sequence[Mapping[str, Any]], bundles: dict[int, Counter[str]]) -> Counter[int]:
    plain, parts = _shipped(shipments)
    total = Counter(plain)
    for number, shipped in parts.items():
        if number in bundles:
            total[number] += _whole(shipped, bundles[number])
    return +total


def _quantities(made: Mapping[str, Any]) -> Counter[int]:
    found: Counter[int] = Counter()
    for line in made["lines"]:
        found[int(line["orderLine"])] += round(float(line["quantity"]))
    return +found


def _before(despatched_at: str, created: str | None) -> bool:
    """Despatched in an earlier second than the IMS order was created (the IMS stamps to the second)."""
    if not created:
        return False
    shipped = datetime.fromisoformat(despatched_at).replace(microsecond=0)
    return shipped < datetime.fromisoformat(created)


def _check_notices(
    report: FulfilmentReport,
    notices: Sequence[Mapping[str, Any]] | None,
    by_shipment: Mapping[str, list[Mapping[str, Any]]],
    shipments: Mapping[str, Any],
    ims_orders: Mapping[str, Any],
    store_prefixes: tuple[str, ...] = (),
) -> None:
    if notices is None:
        return
    sent = Counter(str(n["shipment"]) for n in notices)
    report.notices = len(notices)
    report.notices_early = sum(1 for n in notices if not n["if_existed"])
    report.notices_doubled = sum(1 for n in sent.values() if n > 1)
    for sid in sorted(by_shipment):
        reference = str(shipments.get(sid, {}).get("reference"))
        if store_prefixes and reference.startswith(store_prefixes):
            continue  # its store tells the customer
        order = ims_orders.get(reference)
        if order is not None and order.get("email") and sent[sid] == 0:
            report.notices_missing.append(sid)
