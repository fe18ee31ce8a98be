"""The demo's figures per channel (the IMS and each storefront), each from where it can be known:
drift and the orders and fulfilments each channel should have from the oracle, calls and throttles
from the simulators' own records, pushes, holds and latency from the hub's bookkeeping.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from stockbridge.monitor.latency import summary as latency_summary
from stockbridge.oracle import Drift, OracleSettings, drift, expected_figures, ims_figures
from stockbridge.oracle.demand import subtracts_open_demand, take_off_open_demand
from stockbridge.oracle.magento import read_source_items, source_figures
from stockbridge.oracle.storefront import read_storefront, storefront_figures
from stockbridge.store.bookkeeping import latencies_ms, read_counters
from stockbridge.store.schema import sales_orders

# Where each figure of the summary comes from (README.md, "The demo").
ORACLE = "oracle"  # checked independently: the oracle, from the simulators' own state
SIMULATOR = "simulator"  # counted by a simulator or the local mail server, not judged
HUB = "hub"  # the hub's own bookkeeping (its counters and database)
DEMO = "demo"  # what the demo did


def channel_drift(
    http: httpx.Client,
    clarus_url: str,
    ims_url: str,
    settings: OracleSettings,
    config_data: Mapping[str, Any],
    channel: str,
) -> Drift:
    """The oracle's drift for one channel: what the channel shows (IMS on hand, the Shopify store's
    `available`, the Magento source item's `quantity`) against the warehouse's counted statuses less
    the channel's buffer, and for a storefront less the units Clarus orders claim that the warehouse
    has not allocated (docs/decisions/0022), all read from the simulators."""
    clarus = http.get(f"{clarus_url}/_control/state")
    clarus.raise_for_status()
    expected = expected_figures(clarus.json(), settings, channel)
    if channel == "ims":
        ims = http.get(f"{ims_url}/_control/state")
        ims.raise_for_status()
        return drift(expected, ims_figures(ims.json(), set(settings.locations.values())))
    locations = settings.channel_locations(channel)
    if subtracts_open_demand(config_data, channel):
        orders = http.get(f"{clarus_url}/_control/orders")
        orders.raise_for_status()
        expected = take_off_open_demand(expected, orders.json()["orders"], locations)
    store = settings.storefronts[channel]
    if store.kind == "magento":
        shown = source_figures(read_source_items(http, store.base_url), set(locations.values()))
    else:
        shown = storefront_figures(read_storefront(http, store.base_url), set(locations.values()))
    return drift({k: v for k, v in expected.items() if k in shown}, shown)


def orders_by_channel(connection: Connection) -> dict[str, int]:
    """Orders the hub has taken in, per channel (the IMS, or a storefront sending straight to Clarus)."""
    rows = connection.execute(
        select(sales_orders.c.channel, func.count()).group_by(sales_orders.c.channel)
    ).all()
    return {str(channel): int(n) for channel, n in rows}


def hub_figures(connection: Connection, channels: list[str]) -> dict[str, dict[str, Any]]:
    """Pushes (calls and lines) and latency per channel, from the hub's counters and samples."""
    counters = read_counters(connection)
    received = orders_by_channel(connection)
    figures: dict[str, dict[str, Any]] = {}
    for name in channels:
        latency = latency_summary(latencies_ms(connection, name))
        figures[name] = {
            "received": received.get(name, 0),
            "pushes": counters.get(f"push.{name}.calls", 0),
            "lines_pushed": counters.get(f"push.{name}.lines", 0),
            "latency_ms": {k: v for k, v in latency.items() if k != "count"},
        }
    return figures


def channel_summary(
    hub: Mapping[str, Any],
    orders: Mapping[str, Any] | None,
    fulfilments: Mapping[str, Any] | None,
    calls: int | None,
    throttled: int | None,
    drifted: Drift,
    failed: int | None = None,
) -> dict[str, Any]:
    """One channel's entry under `channels` in `stockbridge demo --json`; `calls`, `throttled` and
    `failed` (5xx the simulator injected, outages included) as the channel's simulator counted them."""
    return {
        "orders": None if orders is None else {"received": hub["received"], **orders},
        "fulfilments": fulfilments,
        "pushes": hub["pushes"],
        "lines_pushed": hub["lines_pushed"],
        "calls": calls,
        "throttled": throttled,
        "failed": failed,
        "latency_ms": hub["latency_ms"],
        "drift": drifted.keys,
        "drift_units": drifted.units,
        "drift_examples": [list(e) for e in drifted.examples[:5]],
    }


def held_by_channel(held: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """(channel, hold reason) pairs → per channel, orders held by reason."""
    counted: dict[str, Counter[str]] = {}
    for channel, reason in held:
        counted.setdefault(channel, Counter())[reason] += 1
    return {channel: dict(c) for channel, c in counted.items()}


def by_reason(held: Mapping[str, int] | None) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted((held or {}).items())) or "none"


def channel_rows(name: str, channel: Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """The summary table's rows for one channel, each with its source."""
    latency = channel["latency_ms"]
    rows: list[tuple[str, Any, str]] = []
    orders = channel.get("orders")
    if orders is not None:
        rows += [
            (f"{name}: orders received", orders["received"], HUB),
            (
                f"{name}: orders in Clarus / cancelled",
                f"{orders['released']} / {orders['cancelled']}",
                ORACLE,
            ),
            (f"{name}: orders held, by reason", by_reason(orders["held"]), HUB),
            (f"{name}: orders that should be held, by reason", by_reason(orders["held_expected"]), ORACLE),
            (f"{name}: orders differing from what the channel says", orders["mismatches"], ORACLE),
        ]
        if "bundle_orders" in orders:
            rows.append(
                (
                    f"{name}: bundle orders in Clarus as their components / placed",
                    f"{orders['bundles_dekitted']} / {orders['bundle_orders']}",
                    ORACLE,
                )
            )
    fulfilments = channel.get("fulfilments")
    if fulfilments is not None:
        rows += [
            (
                f"{name}: fulfilments with tracking / shipments",
                f"{fulfilments['with_tracking']} / {fulfilments['shipments']}",
                SIMULATOR,
            ),
            (f"{name}: fulfilments missing, doubled or wrong", fulfilments["problems"], ORACLE),
        ]
    rows += [
        (f"{name}: pushes / lines", f"{channel['pushes']} / {channel['lines_pushed']}", HUB),
        (
            f"{name}: calls / throttles met / failures met (5xx)",
            f"{channel['calls']} / {channel['throttled']} / {channel.get('failed')}",
            SIMULATOR,
        ),
        (
            f"{name}: latency movement → channel p50/p95/p99 ms",
            f"{latency.get('p50')} / {latency.get('p95')} / {latency.get('p99')}",
            HUB,
        ),
        (f"{name}: drift (SKUs / units)", f"{channel['drift']} / {channel['drift_units']}", ORACLE),
    ]
    return rows
