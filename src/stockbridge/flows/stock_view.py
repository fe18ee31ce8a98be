"""One SKU's stock as the hub sees it, per channel and location: what it counts, the buffer and where
the buffer came from, open demand, the figure offered and what was last pushed
(`stockbridge stock show`). The figure is worked out by the same code the fold uses
(`flows/figures.py`), so what is shown is what the next push sends."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from stockbridge.config import IMS_CHANNEL_NAME, Config
from stockbridge.flows.figures import channel_figures, velocity_buffer
from stockbridge.store import demand_repo, finance_repo, stock_repo, targets_repo, velocity_repo


@dataclass(frozen=True, slots=True)
class ChannelLine:
    channel: str
    location: str
    warehouse: str
    allocation: str  # the warehouse's rule
    counted: int
    add_back: int  # the IMS: units of financial movements whose batch has not posted
    buffer: int
    buffer_from: str  # "sku", "class <name>", "velocity <name>" or "default"
    open_demand: int
    figure: int  # what the rules give now
    desired: int | None  # what the hub last derived (None: no target yet)
    pushed: int | None  # what the channel last acknowledged
    state: str | None


@dataclass(frozen=True, slots=True)
class SkuStock:
    sku: str
    velocity_class: str | None
    velocity_buffer: int | None
    units_sold: int | None  # in the window, when last classified
    lines: tuple[ChannelLine, ...]
    reported: bool  # the warehouse has reported stock of it (else every figure is 0 by default)


def sku_stock(connection: Connection, config: Config, sku: str) -> SkuStock:
    warehouses = [m.warehouse for m in config.locations]
    observed = stock_repo.observed_for(connection, [(sku, w) for w in warehouses])
    demand = demand_repo.demand_for(connection, [(sku, w) for w in warehouses])
    stored = velocity_repo.stored_class(connection, sku)
    velocity_class = None if stored is None else stored.velocity_class
    held = targets_repo.figures_of_sku(connection, sku)
    unposted = finance_repo.add_back_for(connection, [(sku, w) for w in warehouses])
    lines: list[ChannelLine] = []
    for warehouse in warehouses:
        quantities = {b.status: b.quantity for b in observed.get((sku, warehouse), [])}
        figures = channel_figures(
            config,
            sku,
            warehouse,
            quantities,
            demand.get((sku, warehouse), 0),
            velocity_class,
            add_backs={IMS_CHANNEL_NAME: unposted.get((sku, warehouse), 0)},
        )
        for f in figures.values():
            desired, pushed, _dirty, state = held.get((f.channel, f.location), (None, None, False, None))
            lines.append(
                ChannelLine(
                    f.channel,
                    f.location,
                    warehouse,
                    config.allocation_rule(warehouse).kind,
                    f.counted,
                    f.add_back,
                    f.buffer.units,
                    f.buffer.source,
                    f.open_demand,
                    f.figure,
                    desired,
                    pushed,
                    state,
                )
            )
    velocity = velocity_buffer(config, velocity_class)
    return SkuStock(
        sku,
        velocity_class,
        None if velocity is None else velocity[1],
        None if stored is None else stored.units_sold,
        tuple(lines),
        bool(observed) or bool(held),
    )
