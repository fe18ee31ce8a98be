"""Stock per SKU as the hub sees it, and the SKUs per sales-velocity class."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from stockbridge.cli.base import DEFAULT_CONFIG, ConfigOption, app, console, engine_for, err, load

stock_app = typer.Typer(help="Stock figures per SKU and velocity classes.", no_args_is_help=True)
app.add_typer(stock_app, name="stock")


@stock_app.command("show")
def stock_show(
    sku: str = typer.Argument(help="The warehouse SKU."),
    config: ConfigOption = DEFAULT_CONFIG,
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Per channel and location: counted stock (the IMS: and the add-back of unposted financial
    movements), buffer and where it came from, open demand, the figure offered, what was last pushed."""
    from stockbridge.flows.stock_view import sku_stock

    cfg = load(config)
    with engine_for(cfg).connect() as c:
        view = sku_stock(c, cfg, sku)
    if not view.reported:
        err.print(f"no warehouse has reported stock of {sku} (SKUs are the warehouse's)")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps(asdict(view)))
        return
    if view.velocity_class is None:
        sold = "" if view.units_sold is None else f" ({view.units_sold} sold in the window)"
        console.print(f"{sku}: no velocity class{sold}")
    else:
        console.print(
            f"{sku}: velocity class [bold]{view.velocity_class}[/bold] (buffer {view.velocity_buffer}, "
            f"{view.units_sold} sold in the window)"
        )
    table = Table(
        "channel",
        "location",
        "warehouse",
        "allocation",
        "counted",
        "add-back",
        "buffer",
        "buffer from",
        "open demand",
        "figure",
        "pushed",
        title=f"stock of {sku}",
    )
    for line in view.lines:
        stale = "" if line.desired in (None, line.figure) else f" (derived {line.desired})"
        table.add_row(
            line.channel,
            line.location,
            line.warehouse,
            line.allocation,
            str(line.counted),
            str(line.add_back) if line.add_back else "",
            str(line.buffer),
            line.buffer_from,
            str(line.open_demand),
            f"{line.figure}{stale}",
            "" if line.pushed is None else str(line.pushed),
        )
    console.print(table)


@stock_app.command("classes")
def stock_classes(
    config: ConfigOption = DEFAULT_CONFIG, as_json: bool = typer.Option(False, "--json")
) -> None:
    """How many SKUs are in each velocity class (as last reclassified)."""
    from stockbridge.store import velocity_repo

    cfg = load(config)
    with engine_for(cfg).connect() as c:
        counts = velocity_repo.class_counts(c)
    classes = {} if cfg.velocity is None else cfg.velocity.classes
    names = sorted(classes, key=lambda name: -classes[name].min_per_day)  # fastest first
    rows = {name: counts.get(name, 0) for name in names}
    rows.update({name: n for name, n in counts.items() if name is not None and name not in rows})
    rows["(none)"] = counts.get(None, 0)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table("class", "SKUs", title="velocity classes")
    for name, n in rows.items():
        table.add_row(name, str(n))
    console.print(table)
