"""Inventory flow, fold side: inbox entries → observed stock → desired ATS per target.

Runs inside one database transaction per batch of inbox entries (DESIGN.md section 2, steps 2-3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from stockbridge.config import IMS_CHANNEL_NAME, Config
from stockbridge.domain.finance import FinancialMovement, business_date, counted_change
from stockbridge.domain.inbound import STOCK_MOVEMENT, STOCK_SNAPSHOT, UnusableEvent
from stockbridge.domain.priority import push_priority
from stockbridge.domain.stock import StockBalance, StockMovement
from stockbridge.domain.velocity import Sale
from stockbridge.flows.edge_ports import InboundFormats
from stockbridge.flows.figures import channel_figures, channels_at
from stockbridge.store import demand_repo, finance_repo, inbox_repo, stock_repo, targets_repo, velocity_repo
from stockbridge.store.bookkeeping import bump, raise_exception
from stockbridge.store.inbox_repo import InboxEntry


@dataclass
class FoldOutcome:
    entries: int = 0
    balances: int = 0
    targets: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (type, entity, detail)


@dataclass
class _Folding:
    balances: list[StockBalance] = field(default_factory=list)
    movements: Counter[tuple[str, str]] = field(default_factory=Counter)
    newest_occurred: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def add_movement_balances(self, balances: Sequence[StockBalance], occurred_at: datetime) -> None:
        self.balances.extend(balances)
        for pair in {(b.sku, b.warehouse_id) for b in balances}:
            self.movements[pair] += 1
            previous = self.newest_occurred.get(pair)
            if previous is None or occurred_at > previous:
                self.newest_occurred[pair] = occurred_at


@dataclass(frozen=True, slots=True)
class StockEntry:
    """An inbox entry of the inventory flow, parsed: the balances it reports."""

    entry_id: int
    balances: tuple[StockBalance, ...]
    occurred_at: datetime | None  # a movement's; None for a snapshot page (not a movement)
    movement: StockMovement | None = None  # what the movement was (sales, financial movements)


def parse_stock_entry(entry: InboxEntry, formats: InboundFormats) -> StockEntry:
    """A movement or a snapshot page, read by its sender's connector; `UnusableEvent` says why it
    cannot be folded."""
    if entry.kind == STOCK_MOVEMENT:
        movement = formats.movement(entry.payload)
        return StockEntry(entry.id, movement.balances, movement.occurred_at, movement)
    if entry.kind == STOCK_SNAPSHOT:
        return StockEntry(entry.id, tuple(formats.snapshot(entry.payload)), None)
    raise UnusableEvent(f"kind: the inventory flow does not fold {entry.kind!r}")


def fold_entries(
    connection: Connection,
    entries: Sequence[InboxEntry],
    config: Config,
    now: datetime,
    *,
    formats: InboundFormats,
) -> FoldOutcome:
    """Parse and fold a batch of inbox entries (raises on the first unusable one; `flows/fold.py` sets
    such entries aside instead). Caller owns the transaction."""
    return fold_stock(connection, [parse_stock_entry(e, formats) for e in entries], config, now)


def fold_stock(
    connection: Connection,
    entries: Sequence[StockEntry],
    config: Config,
    now: datetime,
    *,
    also: Iterable[tuple[str, str]] = (),
) -> FoldOutcome:
    """Fold parsed entries, re-derive the targets they touch and mark the entries done. `also`:
    (SKU, warehouse) pairs to re-derive with them (their open demand moved), under the same lock."""
    outcome = FoldOutcome(entries=len(entries))
    folding = _Folding()
    for entry in entries:
        if entry.occurred_at is not None:
            folding.add_movement_balances(entry.balances, entry.occurred_at)
        else:
            folding.balances.extend(entry.balances)
    outcome.balances = len(folding.balances)
    _note_unmapped(folding.balances, config, outcome)
    if config.velocity is not None:
        velocity_repo.record_sales(connection, _sales(entries, config.velocity.sales_movements))

    # Before the targets are derived: their IMS figure holds these movements' units back.
    finance_repo.record_movements(connection, financial_movements(entries, config), now)
    pairs = {(b.sku, b.warehouse_id) for b in folding.balances}
    wanted = set(also) - pairs
    if wanted:
        pairs |= set(stock_repo.observed_for(connection, wanted))  # no stock yet: nothing to derive
    derived = _derive(connection, config, pairs, now, folding, fold=folding.balances)
    inbox_repo.mark_processed(connection, [e.entry_id for e in entries], now)
    bump(connection, "fold.entries", len(entries))
    for type_, entity, detail in outcome.problems:
        raise_exception(
            connection, type=type_, entity=entity, owner=config.owners.owner_of(type_), detail=detail, now=now
        )
    outcome.targets = derived
    return outcome


def rederive_targets(
    connection: Connection, config: Config, pairs: Iterable[tuple[str, str]], now: datetime
) -> int:
    """Re-derive the storefront targets of these (warehouse SKU, warehouse) pairs after their open
    demand changed (an order claimed or released units: docs/decisions/0022). Caller owns the
    transaction, the same one that changed the order. Pairs the warehouse never reported stock for
    are left alone: their first movement creates their targets."""
    with_stock = set(stock_repo.observed_for(connection, set(pairs)))
    channels = [c for c in config.stock_channels() if config.ats_rule(c).subtracts_open_demand]
    return _derive(connection, config, with_stock, now, _Folding(), channels=channels)


def rederive_skus(connection: Connection, config: Config, skus: Iterable[str], now: datetime) -> int:
    """Re-derive the targets of these SKUs, at every warehouse, for the channels whose buffers follow
    velocity classes (a SKU changed class: decision 0033). Caller owns the transaction."""
    channels = [c for c in config.stock_channels() if config.ats_rule(c).velocity_buffers]
    if not channels:
        return 0
    pairs = {(sku, mapping.warehouse) for sku in skus for mapping in config.locations}
    with_stock = set(stock_repo.observed_for(connection, pairs))
    return _derive(connection, config, with_stock, now, _Folding(), channels=channels)


def rederive_ims(
    connection: Connection, config: Config, pairs: Iterable[tuple[str, str]], now: datetime
) -> int:
    """Re-derive the IMS targets of these (SKU, warehouse) pairs after their financial movements'
    batch posted (their hold ended: docs/decisions/0030). Caller owns the transaction."""
    with_stock = set(stock_repo.observed_for(connection, set(pairs)))
    return _derive(connection, config, with_stock, now, _Folding(), channels=[IMS_CHANNEL_NAME])


def financial_movements(entries: Sequence[StockEntry], config: Config) -> list[FinancialMovement]:
    """The entries' movements whose reason finance books (`finance.reasons`) and that moved the IMS's
    figure; each with its units (the change in what the IMS target counts)."""
    reasons = config.finance.reasons
    if not reasons:
        return []
    counted = config.ats_rule(IMS_CHANNEL_NAME).counted_statuses
    zone = config.finance.zone()
    found: list[FinancialMovement] = []
    for entry in entries:
        m = entry.movement
        if m is None or m.reason not in reasons:
            continue
        location = config.ims_location_of(m.warehouse_id)
        units = counted_change(m.quantity, m.from_status, m.to_status, counted)
        if location is None or units == 0:
            continue  # the IMS never held these units (or this warehouse feeds no IMS location)
        found.append(
            FinancialMovement(
                m.event_id,
                m.sku,
                m.warehouse_id,
                location,
                m.reason,
                units,
                business_date(m.occurred_at, zone),
            )
        )
    return found


def _derive(
    connection: Connection,
    config: Config,
    pairs: set[tuple[str, str]],
    now: datetime,
    folding: _Folding,
    *,
    fold: Sequence[StockBalance] = (),
    channels: Sequence[str] | None = None,
) -> int:
    """Lock the targets fed by these pairs, fold `fold` into observed stock, and set each target's
    desired figure. Returns the number of targets written."""
    # One target per channel that has a location fed by the balance's warehouse, each with its own
    # rule: the statuses that channel counts, its buffers, and whether open demand comes off
    # (DESIGN.md §3, docs/decisions/0022); then the warehouse's allocation rule shares the pool among
    # the storefronts it names, so a change for one of them re-derives them all (decision 0033).
    channels = config.stock_channels() if channels is None else channels
    warehouse_of: dict[targets_repo.TargetKey, str] = {}
    for sku, warehouse in pairs:
        sharing = config.allocation_rule(warehouse).split_channels()
        for channel, location in channels_at(config, warehouse).items():
            if channel in channels or channel in sharing:
                warehouse_of[(channel, sku, location)] = warehouse
    current = targets_repo.lock_targets(connection, list(warehouse_of), warehouse_of, now)
    stock_repo.fold_observed(connection, fold)
    derived_pairs = {(key[1], w) for key, w in warehouse_of.items()}
    observed = stock_repo.observed_for(connection, derived_pairs)
    rules = {channel: config.ats_rule(channel) for channel in config.stock_channels()}
    # Read after the targets are locked: an order changing demand, or a SKU changing velocity class,
    # re-derives under the same locks.
    demand = (
        demand_repo.demand_for(connection, derived_pairs)
        if any(rule.subtracts_open_demand for rule in rules.values())
        else {}
    )
    velocity = (
        velocity_repo.classes_for(connection, {sku for sku, _ in derived_pairs})
        if any(rule.velocity_buffers for rule in rules.values())
        else {}
    )
    # The IMS's figure adds back the units of financial movements not yet posted (decision 0030),
    # whatever `finance.reasons` says now: a hold ends only when its batch posts or the finance job
    # releases it, else units released here and batched later would move twice.
    held = (
        finance_repo.add_back_for(
            connection, {(key[1], w) for key, w in warehouse_of.items() if key[0] == IMS_CHANNEL_NAME}
        )
        if IMS_CHANNEL_NAME in channels
        else {}
    )
    figures = {
        (sku, warehouse): channel_figures(
            config,
            sku,
            warehouse,
            {b.status: b.quantity for b in observed.get((sku, warehouse), [])},
            demand.get((sku, warehouse), 0),
            velocity.get(sku),
            rules,
            {IMS_CHANNEL_NAME: held.get((sku, warehouse), 0)},
        )
        for sku, warehouse in derived_pairs
    }
    updates: list[dict[str, Any]] = []
    for key, warehouse in warehouse_of.items():
        channel, sku, location = key
        pair = (sku, warehouse)
        balances = observed.get(pair, [])
        target = current[key]
        desired = figures[pair][channel].figure
        movements = target.movements_since_push + folding.movements.get(pair, 0)
        occurred = _latest(target.source_occurred_at, folding.newest_occurred.get(pair))
        updates.append(
            {
                "channel": channel,
                "sku": sku,
                "location": location,
                "desired": desired,
                "version": max((b.version for b in balances), default=-1),
                "occurred_at": occurred,
                "movements": movements,
                "dirty": target.pushed is None or desired != target.pushed,
                "priority": push_priority(desired, target.pushed, movements),
                "now": now,
            }
        )
    targets_repo.set_desired(connection, updates)
    return len(updates)


def _sales(entries: Sequence[StockEntry], kinds: frozenset[str]) -> list[tuple[Sale, datetime]]:
    return [
        (Sale(m.event_id, m.sku, m.warehouse_id, abs(m.quantity)), m.occurred_at)
        for m in (e.movement for e in entries)
        if m is not None and m.movement_type in kinds
    ]


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _note_unmapped(balances: Sequence[StockBalance], config: Config, outcome: FoldOutcome) -> None:
    statuses = {b.status for b in balances} - set(config.inventory_statuses)
    for status in sorted(statuses):
        outcome.problems.append(
            (
                "unmapped_status",
                f"status:{status}",
                f"Clarus status {status!r} is not in inventory_statuses; it counts for no target",
            )
        )
    channels = config.stock_channels()
    warehouses = {
        b.warehouse_id
        for b in balances
        if all(config.location_of(c, b.warehouse_id) is None for c in channels)
    }
    for warehouse in sorted(warehouses):
        outcome.problems.append(
            (
                "unmapped_warehouse",
                f"warehouse:{warehouse}",
                f"Clarus warehouse {warehouse!r} has no IMS location in locations (nor any channel one)",
            )
        )
