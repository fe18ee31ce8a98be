"""End-state checks for the Shopify store's orders and fulfilments, from the simulators' own state and
the independent oracle only (`oracle.check_storefront_orders`, `oracle.check_storefront_fulfilments`).

Orders (route clarus): every order the store has, as the store has it now, against the Clarus order
of its reference. Missing at Clarus (or cancelled there while live at the store): lost. A SKU on
more Clarus lines than the store's order ever had line items for it: doubled. Anything else that
differs (an edit or cancellation not applied, so an older version of the order standing after a
newer one): stale, which a later write may still correct while the day settles.

Fulfilments: each Clarus shipment of a store order exactly one Shopify fulfilment carrying its
tracking (lost / doubled; a fulfilment for no shipment counts doubled); per line item the
fulfilments add up to what shipped, and the order shows fulfilled only when all of it has (a wrong
quantity or status is counted as drift: the store shows something other than the warehouse did).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from stockbridge.chaos.checks import ChannelResult, CheckContext, register
from stockbridge.chaos.shop_day import SHOP_CHANNEL, SHOP_PREFIX
from stockbridge.oracle import OracleSettings, check_storefront_fulfilments, check_storefront_orders
from stockbridge.oracle.read import read_truth


def _shop_orders(context: CheckContext, store_url: str) -> list[dict[str, Any]]:
    response = context.http.get(f"{store_url}/_control/orders")
    response.raise_for_status()
    orders: list[dict[str, Any]] = response.json()["orders"]
    return orders


def _deliveries(context: CheckContext, store_url: str) -> dict[str, int]:
    """The store's order webhooks: sent, and how many of them the faults duplicated, held back or
    lost (a lost one reaches the hub only by the catch-up query)."""
    response = context.http.get(f"{store_url}/_control/webhooks")
    response.raise_for_status()
    log = response.json()["deliveries"]
    counts = {"deliveries": len(log)}
    for fault in ("duplicated", "reordered", "lost"):
        counts[fault] = sum(1 for d in log if d.get(fault))
    return counts


@register
def shopify_orders(context: CheckContext) -> ChannelResult:
    store_url = context.storefronts.get(SHOP_CHANNEL)
    if store_url is None:
        return ChannelResult(f"{SHOP_CHANNEL}: orders", 0)
    settings = OracleSettings.from_config_data(context.config.model_dump())
    truth = read_truth(context.http, context.clarus_url, context.ims_url)
    shop = _shop_orders(context, store_url)
    views: list[Mapping[str, Any]] = list(shop)
    report = check_storefront_orders(
        views, truth.clarus_orders, truth.catalog(settings), settings, prefix=SHOP_PREFIX
    )
    examples = {str(e["reference"]): e for e in report.examples}
    lost, doubled, stale = [], [], []
    for reference in report.mismatched:
        held = truth.clarus_orders.get(reference)
        why = str(examples.get(reference, {}).get("why", ""))
        if held is None or why == "missing in the warehouse":
            lost.append(reference)
        elif why == "lines differ" and _doubled_sku(held, _line_items(shop, reference)):
            doubled.append(reference)
        else:
            stale.append(reference)
    placed = context.day.shop
    unknown = [r for r in placed.orders if r not in {SHOP_PREFIX + str(o["name"]).lstrip("#") for o in shop}]
    detail = {
        "placed": len(placed.orders),
        "cancelled": len(placed.cancelled),
        "edited": len(placed.edited),
        "released": report.released,
        "held": dict(report.held),
        "examples": report.examples,
        "not_in_store": unknown[:5],
        "webhooks": _deliveries(context, store_url),
    }
    return ChannelResult(
        f"{SHOP_CHANNEL}: orders",
        report.total,
        lost=len(lost) + len(unknown),
        doubled=len(doubled),
        stale=len(stale),
        detail=detail,
        stale_may_settle=True,
    )


def _line_items(shop: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    for order in shop:
        if SHOP_PREFIX + str(order["name"]).lstrip("#") == reference:
            return list(order["line_items"])
    return []


def _doubled_sku(held: Mapping[str, Any], items: list[dict[str, Any]]) -> bool:
    """A SKU on more Clarus lines than the store's order ever had line items for it (removed lines
    included: a removal not applied is a stale version, not a doubled one)."""
    at_clarus = Counter(str(line["sku"]) for line in held["lines"])
    in_store = Counter(str(item.get("sku") or "").upper() for item in items)
    return bool(at_clarus - in_store)


@register
def shopify_fulfilments(context: CheckContext) -> ChannelResult:
    store_url = context.storefronts.get(SHOP_CHANNEL)
    if store_url is None:
        return ChannelResult(f"{SHOP_CHANNEL}: fulfilments", 0)
    settings = OracleSettings.from_config_data(context.config.model_dump())
    truth = read_truth(context.http, context.clarus_url, context.ims_url)
    shipments = {
        sid: s for sid, s in truth.clarus_shipments.items() if str(s["reference"]).startswith(SHOP_PREFIX)
    }
    # A cancelled order is judged by the orders check (the day never despatches one it cancelled);
    # the oracle's fulfilment status rule knows no cancellation (all its quantities are 0).
    live = [o for o in _shop_orders(context, store_url) if not o.get("cancelled_at")]
    report = check_storefront_fulfilments(
        live,
        shipments,
        truth.catalog(settings),
        settings.sku_rules,
        prefix=SHOP_PREFIX,
    )
    detail = {
        "fulfilments": report.fulfilments,
        "lost": report.lost[:5],
        "doubled": report.doubled[:5],
        "unexpected": report.unexpected[:5],
        "wrong": report.wrong[:5],
        "status": report.status[:5],
    }
    return ChannelResult(
        f"{SHOP_CHANNEL}: fulfilments",
        report.shipments,
        lost=len(report.lost),
        doubled=len(report.doubled) + len(report.unexpected),
        drift=len(report.wrong) + len(report.status),
        detail=detail,
    )
