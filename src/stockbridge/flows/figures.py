"""The figure each stock channel is offered for one SKU at one warehouse, and how it was reached.

Each channel's ATS rule (domain/ats.py) gives what it could sell and its buffer; the warehouse's
allocation rule (domain/allocation.py) turns those into the figures offered, sharing the pool among
the storefronts it names. No I/O: the fold (`flows/inventory.py`) and `stockbridge stock show` read
the inputs and both ask this module, so what is shown is what is pushed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stockbridge.config import Config
from stockbridge.domain.allocation import ChannelStock, allocate
from stockbridge.domain.ats import AtsRule, Buffer, counted, sellable


@dataclass(frozen=True, slots=True)
class OfferedFigure:
    channel: str
    location: str
    counted: int  # units in the statuses the channel counts
    add_back: int  # the IMS: units of financial movements whose batch has not posted (decision 0030)
    open_demand: int  # taken off (0 for a channel that does not take it off)
    buffer: Buffer
    figure: int  # offered, after the warehouse's allocation rule


def channels_at(config: Config, warehouse_id: str) -> dict[str, str]:
    """Channel -> its location fed by the warehouse, for every channel that has one (file order)."""
    located = {c: config.location_of(c, warehouse_id) for c in config.stock_channels()}
    return {c: loc for c, loc in located.items() if loc is not None}


def velocity_buffer(config: Config, velocity_class: str | None) -> tuple[str, int] | None:
    """(class, buffer) of a SKU's velocity class, if it has one the configuration still knows."""
    if config.velocity is None or velocity_class is None:
        return None
    settings = config.velocity.classes.get(velocity_class)
    return None if settings is None else (velocity_class, settings.buffer)


def channel_figures(
    config: Config,
    sku: str,
    warehouse_id: str,
    quantities: Mapping[str, int],
    open_demand: int,
    velocity_class: str | None = None,
    rules: Mapping[str, AtsRule] | None = None,
    add_backs: Mapping[str, int] | None = None,
) -> dict[str, OfferedFigure]:
    """Every channel's figure for `sku` at `warehouse_id`, from the warehouse's balances by status,
    the open demand there, the SKU's velocity class and units added back per channel (the IMS's
    unposted financial movements)."""
    velocity = velocity_buffer(config, velocity_class)
    located = channels_at(config, warehouse_id)
    rule_of = {c: (rules[c] if rules is not None and c in rules else config.ats_rule(c)) for c in located}
    buffers = {c: rule_of[c].buffer(sku, velocity) for c in located}
    added = {c: (add_backs or {}).get(c, 0) for c in located}
    stocks = {
        c: ChannelStock(sellable(quantities, rule_of[c], open_demand, added[c]), buffers[c].units)
        for c in located
    }
    offered = allocate(config.allocation_rule(warehouse_id), stocks)
    return {
        c: OfferedFigure(
            c,
            location,
            counted(quantities, rule_of[c]),
            added[c],
            max(0, open_demand) if rule_of[c].subtracts_open_demand else 0,
            buffers[c],
            offered[c],
        )
        for c, location in located.items()
    }
