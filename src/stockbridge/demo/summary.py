"""The demo's summary: built from the oracle's verdicts, the simulators' counts and the hub's own
bookkeeping (each figure labelled with where it comes from), printed as a table, and judged."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from stockbridge.demo.channels import DEMO, HUB, ORACLE, SIMULATOR, channel_rows, channel_summary, hub_figures
from stockbridge.demo.world import IMS_CHANNEL, DemoOptions
from stockbridge.monitor.latency import summary as latency_summary
from stockbridge.oracle import Drift
from stockbridge.store import velocity_repo
from stockbridge.store.bookkeeping import count_open_exceptions, latencies_ms, read_counters
from stockbridge.store.db import make_engine


def build_summary(
    options: DemoOptions,
    database_url: str,
    sent: int,
    drifts: dict[str, Drift],
    deliveries: dict[str, Any],
    ims_stats: dict[str, Any],
    health: dict[str, Any],
) -> dict[str, Any]:
    """The day's figures across channels (the hub's counters, the IMS simulator's calls, the
    oracle's drift on every channel)."""
    engine = make_engine(database_url)
    with engine.begin() as c:
        counters = read_counters(c)
        latencies = latencies_ms(c, IMS_CHANNEL)
        open_exceptions = count_open_exceptions(c)
    engine.dispose()
    ims = drifts[IMS_CHANNEL]
    return {
        "skus": options.skus,
        "movements": sent,
        "events_received": counters.get("inbox.received", 0),
        "duplicates_ignored": counters.get("inbox.duplicates", 0),
        "recovered_by_events_feed": counters.get("sync.feed_recovered", 0),
        "recovered_by_full_sync_rows": counters.get("sync.snapshot_rows", 0),
        "pushes": counters.get("push.ims.calls", 0),
        "lines_pushed": counters.get("push.ims.lines", 0),
        "latency_ms": {k: v for k, v in latency_summary(latencies).items() if k != "count"},
        "drift": sum(d.keys for d in drifts.values()),  # every channel's, all judged by the oracle
        "drift_units": sum(d.units for d in drifts.values()),
        "ims_drift": ims.keys,
        "webhooks": deliveries,
        "ims_calls": ims_stats.get("calls"),
        "ims_throttled_429": ims_stats.get("throttled_429"),
        "exceptions_open": open_exceptions,
        "dirty_targets_left": health["dirty_targets"],
    }


def fulfilments_entry(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A channel's fulfilments as the summary shows them: made with tracking (IMS Item Fulfilments
    with their packages, Shopify fulfilments with tracking numbers) against the shipments for it."""
    if found is None:
        return None
    return {
        "with_tracking": found.get("with_tracking", found.get("item_fulfilments")),
        "shipments": found["shipments"],
        "problems": found["problems"],
        "examples": found["examples"],
    }


def channels_entry(
    database_url: str,
    channels: list[str],
    orders: dict[str, Any] | None,
    fulfilment: dict[str, Any] | None,
    calls: dict[str, dict[str, Any]],
    drifts: dict[str, Drift],
) -> dict[str, Any]:
    """Each channel's entry; `calls`: each channel's simulator's own count of calls (`calls`,
    `throttled`, `failed`)."""
    engine = make_engine(database_url)
    with engine.begin() as c:
        hub = hub_figures(c, channels)
    engine.dispose()
    return {
        name: channel_summary(
            hub[name],
            None if orders is None else orders[name],
            None if fulfilment is None else fulfilments_entry(fulfilment.get(name)),
            calls.get(name, {}).get("calls"),
            calls.get(name, {}).get("throttled"),
            drifts[name],
            calls.get(name, {}).get("failed"),
        )
        for name in channels
    }


def metrics_rows(metrics: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """The table's rows for the scrape of the hub's /metrics."""
    if not metrics.get("answered"):
        return [("/metrics answered (viewer token)", f"no: {metrics}", DEMO)]
    counts = metrics["latency_histogram_count"]
    return [
        ("/metrics answered (viewer token): series", metrics["series"], HUB),
        (
            "/metrics latency histogram count, by channel",
            ", ".join(f"{name} {n}" for name, n in sorted(counts.items())) or "none",
            HUB,
        ),
    ]


def print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(
        title="stockbridge demo",
        caption=f"{ORACLE}: checked independently from the simulators' state (stockbridge.oracle); "
        f"{SIMULATOR}: counted by a simulator; {HUB}: the hub's own bookkeeping; {DEMO}: what the demo did",
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_column("source")
    rows: list[tuple[str, Any, str]] = [
        ("SKUs", summary["skus"], DEMO),
        ("movements in Clarus", summary["movements"], DEMO),
        ("events received (webhooks)", summary["events_received"], HUB),
        ("duplicates ignored", summary["duplicates_ignored"], HUB),
        ("events caught up from the Clarus feed", summary["recovered_by_events_feed"], HUB),
        ("snapshot rows folded (full sync)", summary["recovered_by_full_sync_rows"], HUB),
        ("open exceptions", summary["exceptions_open"] or "none", HUB),
    ]
    orders = summary.get("orders")
    if orders is not None:
        rows.append(("IMS orders planned / amended", f"{orders['total']} / {orders['amended']}", HUB))
    fulfilment = summary.get("fulfilment")
    if fulfilment is not None:
        rows += [
            (
                "notices sent / before their fulfilment / missing or doubled",
                f"{fulfilment['notifications']} / {fulfilment['early_notifications']}"
                f" / {fulfilment['notices_missing_or_doubled']}",
                ORACLE,
            ),
            ("shipped before their IMS order existed", fulfilment["shipped_before_order"], ORACLE),
            ("shipments released from parking", fulfilment["released_from_parking"], HUB),
            (
                "IMS orders complete / partial",
                f"{fulfilment['orders_complete']} / {fulfilment['orders_partial']}",
                SIMULATOR,
            ),
        ]
    for name, channel in summary["channels"].items():
        rows += channel_rows(name, channel)
    rows += metrics_rows(summary.get("metrics") or {})
    classes = summary.get("velocity_classes") or {}
    rows.append(("SKUs per velocity class", ", ".join(f"{k} {v}" for k, v in classes.items()) or "-", HUB))
    phases = summary.get("phases_s") or {}
    rows.append(("wall time s, by phase", ", ".join(f"{k} {v}" for k, v in phases.items()) or "-", DEMO))
    rows.append(("wall time s", summary["wall_s"], DEMO))
    for what, value, source in rows:
        table.add_row(what, str(value), source)
    console.print(table)
    _print_verdicts(console, summary)
    console.print(f"daily report: {summary['report']}")


def _print_verdicts(console: Console, summary: dict[str, Any]) -> None:
    for name, channel in summary["channels"].items():
        console.print(
            f"[green]{name} matches the warehouse[/green]"
            if channel["drift"] == 0
            else f"[red]{name}: DRIFT LEFT {channel['drift_examples']}[/red]"
        )
        channel_orders = channel.get("orders")
        if channel_orders is not None:
            console.print(
                f"[green]every {name} order is in Clarus as the {name} says, or held with a reason[/green]"
                if channel_orders["mismatches"] == 0
                else f"[red]{channel_orders['mismatches']} {name} orders differ: "
                f"{channel_orders['mismatch_examples']}[/red]"
            )
        problems = channel.get("fulfilments") or {}
        if problems.get("problems"):
            console.print(f"[red]{name} fulfilment problems: {problems.get('examples')}[/red]")
    if not (summary.get("metrics") or {}).get("answered"):
        console.print(f"[red]the hub's /metrics did not answer: {summary.get('metrics')}[/red]")


def succeeded(summary: dict[str, Any]) -> bool:
    """The demo's verdict: no drift on any channel, no order that differs from what its channel says
    it should be, no shipment missing, doubled or wrong in the IMS or the store, no notice missing,
    doubled or before its Item Fulfilment (all of it the oracle's); and the hub's /metrics answered a
    viewer's scrape while it ran."""
    channels = summary.get("channels") or {}
    return (
        summary["drift"] == 0
        and all(
            (c.get("orders") or {}).get("mismatches", 0) == 0
            and (c.get("fulfilments") or {}).get("problems", 0) == 0
            for c in channels.values()
        )
        and bool((summary.get("metrics") or {}).get("answered"))
    )


def velocity_class_counts(database_url: str) -> dict[str, int]:
    """SKUs in each velocity class after the demo's reclassification (`none`: sold too slowly for any)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as c:
            counts = velocity_repo.class_counts(c)
    finally:
        engine.dispose()
    return {name or "none": n for name, n in sorted(counts.items(), key=lambda kv: kv[0] or "~")}
