"""The chaos table: what was injected, what went through, what each channel shows at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from stockbridge.chaos.run import ChaosReport


def summary(report: ChaosReport) -> dict[str, Any]:
    """The report as plain data (`--json`)."""
    return {
        "profile": report.options.profile.name,
        "database": report.options.database,
        "workers": report.options.workers,
        "seed": report.options.seed,
        "faults_injected": report.injected,
        "faults_skipped": report.skipped,
        "events": report.events,
        "movements": report.movements,
        "orders": report.orders,
        "shipments": report.shipments,
        "webhooks": report.webhooks,
        "channels": [
            {
                "channel": c.channel,
                "items": c.items,
                "lost": c.lost,
                "doubled": c.doubled,
                "stale": c.stale,
                "drift": c.drift,
                "detail": c.detail,
            }
            for c in report.channels
        ],
        "lost": report.total("lost"),
        "doubled": report.total("doubled"),
        "stale": report.total("stale"),
        "drift": report.total("drift"),
        "converge_s": report.converge_s,
        "restarts": report.restarts,
        "unexpected_exits": {str(k): v for k, v in report.unexpected_exits.items()},
        "injector_errors": report.injector_errors,
        "log": report.log,
        "passed": report.passed,
        "wall_s": report.wall_s,
    }


def print_report(console: Console, report: ChaosReport) -> None:
    options = report.options
    title = (
        f"stockbridge chaos ({options.profile.name}, {options.database}, "
        f"{options.workers} worker process(es), seed {options.seed})"
    )
    faults = Table(title=title, show_header=True)
    faults.add_column("fault injected")
    faults.add_column("times", justify="right")
    for kind, count in sorted(report.injected.items()):
        faults.add_row(kind, str(count))
    for kind, count in sorted(report.skipped.items()):
        faults.add_row(f"{kind} (skipped: not supported)", str(count))
    console.print(faults)

    hooks = report.webhooks
    flow = Table(show_header=False)
    flow.add_column("what")
    flow.add_column("value", justify="right")
    flow.add_row("events in Clarus (movements, orders, shipments)", str(report.events))
    flow.add_row("stock movements", str(report.movements))
    flow.add_row("sales orders", str(report.orders))
    flow.add_row("shipments", str(report.shipments))
    flow.add_row(
        "webhooks delivered / duplicated / reordered / dropped / failed attempts",
        f"{hooks.get('delivered')} / {hooks.get('duplicates_sent')} / {hooks.get('reordered')} / "
        f"{hooks.get('dropped')} / {hooks.get('failed_attempts')}",
    )
    restarts = ", ".join(f"{k} {v}" for k, v in sorted(report.restarts.items()))
    exits = ", ".join(f"{k}: {v}" for k, v in sorted(report.unexpected_exits.items()))
    flow.add_row("hub processes restarted", restarts or "none")
    flow.add_row("exits by themselves (code: times)", exits or "none")
    console.print(flow)

    channels = Table(show_header=True)
    for column in ("channel", "checked", "lost", "doubled", "stale", "drift"):
        channels.add_column(column, justify="left" if column == "channel" else "right")
    for c in report.channels:
        channels.add_row(c.channel, str(c.items), *(_mark(v) for v in (c.lost, c.doubled, c.stale, c.drift)))
    channels.add_row(
        "[bold]total[/bold]", "", *(_mark(report.total(w)) for w in ("lost", "doubled", "stale", "drift"))
    )
    console.print(channels)
    converge = "never (timed out)" if report.converge_s is None else f"{report.converge_s} s"
    console.print(f"time to converge after the last fault: {converge}; wall time {report.wall_s} s")
    for c in report.channels:
        shown = {k: v for k, v in c.detail.items() if v}
        if shown and not c.clean:
            console.print(f"[red]{c.channel}[/red]: {shown}")
    for error in report.injector_errors:
        console.print(f"[yellow]injector error[/yellow] {error}")
    console.print("[green]PASSED[/green]" if report.passed else "[red]FAILED[/red]")


def _mark(value: int) -> str:
    return str(value) if value == 0 else f"[red]{value}[/red]"
