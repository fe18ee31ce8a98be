"""End-state checks, one per channel and flow, from the simulators' own state only.

Each check reads what a far system holds (the IMS's adjustments and Item Fulfilments, Clarus's
orders, the mail server's inbox) and compares it with what the scripted day did there. None of them
reads the hub's database or uses its rules: stock drift comes from `measure_drift` (the oracle).

A channel added later joins by registering its own check with `@register`; the report and the
verdict pick it up (the storefronts' checks: `chaos/storefront_checks.py`).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from stockbridge.chaos.shop_day import SHOP_PREFIX, ShopRecord
from stockbridge.config import Config
from stockbridge.demo import measure_drift
from stockbridge.demo.despatch_day import Mailbox
from stockbridge.oracle import adjustments_off_target
from stockbridge.oracle.read import suiteql

SHIPMENT_PREFIX = "sb-if-"  # the hub's Item Fulfilment external id (docs/fulfilment.md)
_ATS_MEMO = re.compile(r"^stockbridge ATS (-?\d+) v(\d+)$")  # an adjustment line's memo (one target version)


@dataclass
class DayRecord:
    """What the scripted day did to the simulators: the harness's own notes, not the hub's."""

    orders: dict[str, str] = field(default_factory=dict)  # IMS tranId -> IMS id
    cancelled: set[str] = field(default_factory=set)
    edited: set[str] = field(default_factory=set)
    despatched: set[str] = field(default_factory=set)
    movements: int = 0
    shop: ShopRecord = field(default_factory=ShopRecord)  # the Shopify store's orders (route clarus)


@dataclass(frozen=True)
class CheckContext:
    http: httpx.Client
    clarus_url: str
    ims_url: str
    ims_token: str
    config: Config
    day: DayRecord
    mailbox: Mailbox
    clarus_key: str = ""  # the events feed's key (the storefront checks read the warehouse's history)
    storefronts: dict[str, str] = field(default_factory=dict)  # storefront channel -> its simulator URL


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    items: int  # what was checked: SKUs, orders, shipments, notices
    lost: int = 0
    doubled: int = 0
    stale: int = 0
    drift: int = 0
    detail: dict[str, Any] = field(default_factory=dict)
    # A stale end state that a later write may still correct (an edit not applied yet), rather than a
    # stale write already in the far system's history.
    stale_may_settle: bool = False

    @property
    def waiting(self) -> int:
        """What may still come right by itself: missing items, drift, a pending stale end state. A
        doubled or stale write already made stays in the far system's history for good."""
        return self.lost + self.drift + (self.stale if self.stale_may_settle else 0)

    @property
    def clean(self) -> bool:
        return self.lost == self.doubled == self.stale == self.drift == 0


Check = Callable[[CheckContext], ChannelResult]
CHECKS: list[Check] = []


def register(check: Check) -> Check:
    CHECKS.append(check)
    return check


def run_checks(context: CheckContext) -> list[ChannelResult]:
    return [check(context) for check in CHECKS]


def _suiteql(context: CheckContext, query: str) -> list[dict[str, Any]]:
    return suiteql(context.http, context.ims_url, context.ims_token, query)


@register
def ims_stock(context: CheckContext) -> ChannelResult:
    """IMS on hand against the warehouse (drift); every adjustment took on hand to exactly the figure
    its memo names (else one was applied twice or lost: doubled); no figure from an older warehouse
    version written after a newer one (stale)."""
    drifted, units = measure_drift(context.clarus_url, context.ims_url, context.config)
    lines = _suiteql(
        context,
        'SELECT tl."transaction" AS adjustment, tl.id AS line, tl.item, tl.location, tl.quantity, tl.memo '
        'FROM transactionline tl JOIN "transaction" t ON t.id = tl."transaction" '
        "WHERE t.type = 'InvAdjst' ORDER BY tl.\"transaction\", tl.id",
    )
    # The memo is no unique key: events folded out of order can take a SKU through the same figure
    # and version twice (139, 134, 139 at one version), each adjustment right. What must hold is the
    # running on hand (the oracle's `adjustments_off_target`).
    off = adjustments_off_target(lines)
    examples = [f"item {o['item']}: {o['memo']!r} left on hand at {o['on_hand_after']}" for o in off[:5]]
    newest: dict[str, int] = {}
    stale = 0
    for line in lines:
        match = _ATS_MEMO.match(str(line["memo"] or ""))
        if match is None:
            continue
        item, version = str(line["item"]), int(match.group(2))
        if version < newest.get(item, -1):
            stale += 1
            if len(examples) < 10:
                examples.append(
                    f"item {item}: {line['memo']!r} in adjustment {line['adjustment']} after v{newest[item]}"
                )
        newest[item] = max(newest.get(item, -1), version)
    skus = len(context.http.get(f"{context.clarus_url}/_control/state").json()["warehouses"]["WH1"]["stock"])
    return ChannelResult(
        "ims: stock",
        skus,
        doubled=len(off),
        stale=stale,
        drift=drifted,
        detail={"drift_units": units, "adjustment_lines": len(lines), "examples": examples},
    )


def _ordered(lines: list[dict[str, Any]], sku: str, quantity: str) -> Counter[str]:
    total: Counter[str] = Counter()
    for line in lines:
        total[str(line[sku])] += round(float(line[quantity]))
    return total


@register
def clarus_orders(context: CheckContext) -> ChannelResult:
    """Every order of the day in Clarus as the IMS has it now: none missing (lost), no line sent twice
    (doubled), no cancellation or edit left unapplied (stale)."""
    ims = context.http.get(f"{context.ims_url}/_control/sales_orders").json()["orders"]
    wms = context.http.get(f"{context.clarus_url}/_control/orders").json()["orders"]
    lost = doubled = stale = 0
    examples: dict[str, list[str]] = defaultdict(list)
    for reference in context.day.orders:
        order, held = ims[reference], wms.get(reference)
        cancelled = order["status"] == "C"
        if cancelled:
            if held is not None and held["status"] != "cancelled":
                stale += 1
                examples["stale"].append(reference)
            continue
        if held is None or held["status"] == "cancelled":
            lost += 1
            examples["lost"].append(reference)
            continue
        open_lines = [line for line in order["lines"] if not line.get("isClosed")]
        want = _ordered(open_lines, "itemId", "quantity")
        have = _ordered(held["lines"], "sku", "quantity")
        if Counter(line["sku"] for line in held["lines"]) - Counter(line["itemId"] for line in open_lines):
            doubled += 1
            examples["doubled"].append(reference)
        elif want != have:
            stale += 1
            examples["stale"].append(reference)
    detail = {k: v[:5] for k, v in examples.items()}
    return ChannelResult(
        "clarus: orders", len(context.day.orders), lost, doubled, stale, detail=detail, stale_may_settle=True
    )


def _shipments(context: CheckContext) -> dict[str, Any]:
    shipments: dict[str, Any] = context.http.get(f"{context.clarus_url}/_control/shipments").json()[
        "shipments"
    ]
    return shipments


def _hub_fulfilments(context: CheckContext) -> dict[str, list[dict[str, Any]]]:
    fulfilments = context.http.get(f"{context.ims_url}/_control/fulfilments").json()["fulfilments"]
    by_shipment: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in fulfilments:
        external = str(record["externalId"] or "")
        if external.startswith(SHIPMENT_PREFIX):
            by_shipment[external.removeprefix(SHIPMENT_PREFIX)].append(record)
    return by_shipment


@register
def ims_fulfilments(context: CheckContext) -> ChannelResult:
    """Each Clarus shipment of an IMS order exactly once in the IMS as an Item Fulfilment, for no
    more than it shipped (a Shopify order's, on route clarus, goes to the store instead)."""
    shipments = {
        sid: s for sid, s in _shipments(context).items() if not str(s["reference"]).startswith(SHOP_PREFIX)
    }
    fulfilled = _hub_fulfilments(context)
    lost = sum(1 for sid in shipments if not fulfilled.get(sid))
    doubled = 0
    for sid, records in fulfilled.items():
        shipped = sum(int(line["quantity"]) for line in shipments.get(sid, {}).get("lines", []))
        booked = sum(round(float(line["quantity"])) for r in records for line in r["lines"])
        if len(records) > 1 or booked > shipped:
            doubled += 1
    missing = [sid for sid in shipments if not fulfilled.get(sid)][:5]
    return ChannelResult("ims: item fulfilments", len(shipments), lost, doubled, detail={"missing": missing})


@register
def customer_notices(context: CheckContext) -> ChannelResult:
    """A notice for every shipment the IMS shows fulfilled, none before its fulfilment. A notice sent
    twice carries the same Message-ID (mail clients show it once); it is reported, not failed."""
    fulfilled = _hub_fulfilments(context)
    received = Counter(mail["shipment"] for mail in context.mailbox.received)
    lost = sum(1 for sid in fulfilled if received[sid] == 0)
    early = sum(1 for mail in context.mailbox.received if not mail["if_existed"])
    resent = sum(n - 1 for n in received.values() if n > 1)
    return ChannelResult(
        "mail: shipment notices",
        len(fulfilled),
        lost,
        stale=early,
        detail={"resent_same_message_id": resent, "before_fulfilment": early},
    )
