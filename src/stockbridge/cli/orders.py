"""Sales orders on their way to the warehouse, and the audit of the systems' item lists."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stockbridge.cli.base import (
    DEFAULT_CONFIG,
    ConfigOption,
    app,
    console,
    engine_for,
    err,
    load,
)

orders_app = typer.Typer(help="Sales orders on their way to the warehouse.", no_args_is_help=True)
audit_app = typer.Typer(help="Compare the systems' lists.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
app.add_typer(audit_app, name="audit")


@orders_app.command("list")
def orders_list(
    config: ConfigOption = DEFAULT_CONFIG,
    state: str | None = typer.Option(None, help="Only orders in this state (e.g. held)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Orders the hub holds, with their state and hold reasons."""
    from stockbridge.domain.order_state import OrderState
    from stockbridge.store import orders_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        records = orders_repo.orders_in(c, [OrderState(state)]) if state else orders_repo.all_orders(c)
    rows = [
        {
            "reference": r.order.reference,
            "state": r.state.value,
            "wms_status": r.wms_status,
            "since": r.state_since.isoformat(),
            "holds": [f"{h.code}: {h.detail}" for h in r.holds],
        }
        for r in records
    ]
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("reference", "state", "warehouse", "since", "hold reasons", title="orders")
    for r in records:
        holds = "\n".join(f"{h.code}: {h.detail}" for h in r.holds)
        table.add_row(
            r.order.reference, r.state.value, r.wms_status or "", f"{r.state_since:%Y-%m-%d %H:%M}", holds
        )
    console.print(table)


@orders_app.command("show")
def orders_show(reference: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """One order: IMS version, state, what the warehouse holds."""
    from stockbridge.store import orders_repo

    engine = engine_for(load(config))
    with engine.begin() as c:
        record = orders_repo.get_order(c, reference=reference)
    if record is None:
        err.print(f"no order {reference}")
        raise typer.Exit(1)
    print(
        json.dumps(
            {
                "ims": orders_repo.sales_order_json(record.order),
                "state": record.state.value,
                "holds": [asdict(h) for h in record.holds],
                "sent": None if record.sent is None else orders_repo.wms_order_json(record.sent),
                "wms_status": record.wms_status,
            },
            indent=2,
        )
    )


@orders_app.command("release")
def orders_release(reference: str, config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Validate a held order again now; it goes to the warehouse if nothing holds it any more."""
    from stockbridge.engine.clock import SystemClock
    from stockbridge.flows.orders import OrderFolder

    loaded = load(config)
    engine = engine_for(loaded)
    with engine.begin() as c:
        record = OrderFolder(c, loaded, SystemClock().now()).release(reference)
    if record is None:
        err.print(f"no order {reference}")
        raise typer.Exit(1)
    console.print(f"{reference}: {record.state.value}")
    for hold in record.holds:
        console.print(f"  held: {hold.code}: {hold.detail}")
    if record.holds:
        raise typer.Exit(1)


@audit_app.command("skus")
def audit_skus(
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also write the findings as CSV.")] = None,
) -> None:
    """Compare the IMS item list with Clarus's: missing, extra, active on one side only, collisions."""
    from stockbridge.engine.connect import connect
    from stockbridge.engine.runtime import run
    from stockbridge.flows.order_sync import read_sku_audit

    loaded = load(config, need_secrets=True)

    async def go() -> dict[str, list[object]]:
        connections = connect(loaded)
        try:
            return await read_sku_audit(connections.ims_products, connections.clarus_orders, loaded)
        finally:
            await connections.aclose()

    report = run(go())
    if csv_path is not None:
        _write_audit_csv(csv_path, report)
    if as_json:
        print(json.dumps(report))
        return
    table = Table("finding", "SKU", "detail", title="SKU audit: IMS against Clarus")
    for sku in report["missing_in_wms"]:
        table.add_row("missing in WMS", str(sku), "active in the IMS, absent in Clarus")
    for sku in report["extra_in_wms"]:
        table.add_row("extra in WMS", str(sku), "in Clarus, no IMS item normalises to it")
    for item in report["inactive_mismatch"]:
        assert isinstance(item, dict)
        table.add_row(
            "active on one side",
            str(item["sku"]),
            f"IMS active={item['ims_active']}, WMS active={item['wms_active']}",
        )
    for item in report["collisions"]:
        assert isinstance(item, dict)
        table.add_row("collision", str(item["wms_sku"]), ", ".join(map(str, item["ims_skus"])))
    console.print(table)


def _write_audit_csv(path: Path, report: dict[str, list[object]]) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["finding", "sku", "detail"])
        for sku in report["missing_in_wms"]:
            writer.writerow(["missing_in_wms", sku, ""])
        for sku in report["extra_in_wms"]:
            writer.writerow(["extra_in_wms", sku, ""])
        for item in report["inactive_mismatch"]:
            assert isinstance(item, dict)
            writer.writerow(
                [
                    "inactive_mismatch",
                    item["sku"],
                    f"ims_active={item['ims_active']} wms_active={item['wms_active']}",
                ]
            )
        for item in report["collisions"]:
            assert isinstance(item, dict)
            writer.writerow(["collision", item["wms_sku"], " ".join(map(str, item["ims_skus"]))])
