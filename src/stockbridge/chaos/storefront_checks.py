"""End-state checks for the storefront channels (Shopify), from the simulators' own records only.

Stock: the oracle's figure per SKU and store location (`oracle.storefront`) against the store's
levels (drift), a figure the store never reached (lost), a set applied twice for one idempotency key
or one batch (doubled), an older warehouse figure written after a newer one (stale; the store's log
names no version, so it is placed in the Clarus events' history: docs/reliability.md).

The store's orders and fulfilments have their own checks: `chaos/storefront_order_checks.py`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from stockbridge.chaos.checks import ChannelResult, CheckContext, register
from stockbridge.oracle import OracleSettings
from stockbridge.oracle.demand import subtracts_open_demand, take_off_open_demand
from stockbridge.oracle.read import clarus_events
from stockbridge.oracle.stock import drift, expected_figures
from stockbridge.oracle.storefront import storefront_figures
from stockbridge.oracle.storefront_writes import figure_history, judge_writes


def _get(context: CheckContext, url: str) -> Any:
    response = context.http.get(url)
    response.raise_for_status()
    return response.json()


def storefront_stock(context: CheckContext, channel: str, store_url: str) -> ChannelResult:
    data = context.config.model_dump()
    settings = OracleSettings.from_config_data(data)
    locations = settings.channel_locations(channel)
    state = _get(context, f"{context.clarus_url}/_control/state")
    expected = expected_figures(state, settings, channel)
    # docs/decisions/0022: orders the warehouse holds but has not allocated come off the store.
    less_demand = subtracts_open_demand(data, channel)
    if less_demand:
        orders = _get(context, f"{context.clarus_url}/_control/orders")["orders"]
        expected = take_off_open_demand(expected, orders, locations)
    shown = storefront_figures(_get(context, f"{store_url}/_control/inventory"), set(locations.values()))
    mutations = _get(context, f"{store_url}/_control/mutations")["mutations"]
    reached: dict[tuple[str, str], set[int]] = defaultdict(set)
    for m in mutations:
        reached[(str(m["sku"]), str(m["location_id"]))].add(int(m["to"]))
    found = drift(expected, shown)
    differing = [key for key in expected if expected[key] != shown.get(key)]
    # Never reached: the store has no such level, or no write ever set the figure now expected.
    lost = [k for k in differing if k not in shown or expected[k] not in reached[k]]
    calls = _get(context, f"{store_url}/_control/calls")
    detail: dict[str, Any] = {
        "drift_units": found.units,
        "drift_examples": found.examples[:5],
        "lost_examples": lost[:5],
        "sets_applied": len(mutations),
        "calls": calls.get("calls"),
        "throttled": calls.get("throttled"),
        "failed_injected": calls.get("failed_injected"),
    }
    doubled: list[str] = []
    stale: list[str] = []
    if not found:
        # Judging every write needs the warehouse's whole history: only once nothing is on its way.
        target = settings.targets[channel]
        for warehouse, location in locations.items():
            events = clarus_events(context.http, context.clarus_url, context.clarus_key, warehouse)
            history = figure_history(events, warehouse, target.counted_statuses, target.buffer_for)
            sets = [m for m in mutations if m["location_id"] == location]
            report = judge_writes(sets, history, less_demand=less_demand)
            doubled += report.doubled
            stale += report.stale
            detail["unmatched_sets"] = detail.get("unmatched_sets", 0) + report.unmatched
        detail["doubled_examples"] = doubled[:5]
        detail["stale_examples"] = stale[:5]
    return ChannelResult(
        f"{channel}: stock",
        len(expected),
        lost=len(lost),
        doubled=len(doubled),
        stale=len(stale),
        drift=found.keys,
        detail=detail,
    )


@register
def storefronts_stock(context: CheckContext) -> ChannelResult:
    """Every storefront's stock as one line per store (today: the one Shopify store, if configured)."""
    results = [storefront_stock(context, name, url) for name, url in sorted(context.storefronts.items())]
    if len(results) == 1:
        return results[0]
    return ChannelResult(
        "storefronts: stock",
        sum(r.items for r in results),
        sum(r.lost for r in results),
        sum(r.doubled for r in results),
        sum(r.stale for r in results),
        sum(r.drift for r in results),
        detail={r.channel: r.detail for r in results},
    )
