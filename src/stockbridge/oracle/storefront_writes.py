"""What a storefront's own records say the hub wrote there: sets applied twice, and older warehouse
figures written after newer ones.

The store's records are the Shopify simulator's `GET /_control/mutations` (every quantity
`inventorySetQuantities` applied, with its idempotency key and reference document,
docs/simulators/shopify.md). Judging the order of the writes needs the warehouse's history of each
figure, read from the Clarus events feed: each movement carries the absolute balance of every
status it changed (docs/simulators/clarus.md). The expected figures themselves are
`stock.expected_figures(..., channel)`; what the store shows, `storefront.storefront_figures`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WriteReport:
    """What the store's mutation log says about the hub's writes."""

    sets: int  # quantities applied
    doubled: list[str] = field(default_factory=list)  # descriptions, one per doubled application
    stale: list[str] = field(default_factory=list)
    unmatched: int = 0  # figures that were no warehouse figure at any version (reported, not failed)


def doubled_sets(mutations: Sequence[Mapping[str, Any]]) -> list[str]:
    """Sets applied twice: one idempotency key, or one batch (reference document), applied more than
    once to the same level. A retry under the same key must be answered from the store's memory; a
    batch is sent under one key unless it was recomputed, and a recomputed batch gets a new id."""
    seen_key: dict[tuple[str, str, str], int] = defaultdict(int)
    seen_batch: dict[tuple[str, str, str], int] = defaultdict(int)
    found: list[str] = []
    for m in mutations:
        level = (str(m["inventory_item_id"]), str(m["location_id"]))
        key = m.get("idempotency_key")
        batch = m.get("reference_document_uri")
        if key:
            seen_key[(*level, str(key))] += 1
            if seen_key[(*level, str(key))] == 2:
                found.append(f"{m['sku']}: key {key} applied twice")
                continue
        if batch:
            seen_batch[(*level, str(batch))] += 1
            if seen_batch[(*level, str(batch))] == 2:
                found.append(f"{m['sku']}: batch {batch} applied twice (under another key)")
    return found


def figure_history(
    events: Iterable[Any],
    warehouse: str,
    counted: frozenset[str],
    buffer_for: Callable[[str], int],
) -> dict[str, list[tuple[int, int]]]:
    """SKU → [(sequence, figure)] ascending: the storefront's figure after each movement of that SKU
    at `warehouse` (from the events feed's absolute balances), starting from (0, 0)."""
    balances: dict[str, dict[str, int]] = defaultdict(dict)
    history: dict[str, list[tuple[int, int]]] = defaultdict(lambda: [(0, 0)])
    for sequence, sku, changed in sorted(m for e in events if (m := _movement(e, warehouse)) is not None):
        balances[sku].update(changed)
        counted_now = sum(q for status, q in balances[sku].items() if status in counted)
        history[sku].append((sequence, max(0, counted_now - buffer_for(sku))))
    return dict(history)


def _movement(event: Any, warehouse: str) -> tuple[int, str, dict[str, int]] | None:
    """(sequence, SKU, {status: balance}) of a movement at `warehouse`; None for other events and
    for a poison event (docs/simulators/clarus.md), which nobody can fold, the hub included."""
    if not isinstance(event, Mapping):  # a malformed poison event is listed as its raw text
        return None
    data = event.get("data")
    if event.get("type") != "inventory.movement" or not isinstance(data, Mapping):
        return None
    try:
        if data["warehouse_id"] != warehouse:
            return None
        changed = {str(b["status"]): int(b["quantity"]) for b in data.get("balances") or []}
        return int(data["sequence"]), str(data["sku"]), changed
    except (KeyError, TypeError, ValueError):
        return None


def stale_sets(
    history: Mapping[str, Sequence[tuple[int, int]]],
    mutations: Sequence[Mapping[str, Any]],
    *,
    less_demand: bool = False,
) -> tuple[list[str], int]:
    """Sets that wrote an older warehouse figure after a newer one had been written.

    The store's log names no warehouse version, so each set is placed at the earliest version at or
    after the previous set's that had the figure it wrote (the most lenient placement: a set is
    stale only when no order of versions explains the writes). A figure the warehouse had only
    before that version is stale. A figure it never had is counted as unmatched, not stale.

    `less_demand`: the store's figures have open demand taken off (docs/decisions/0022), an amount
    the log cannot show, so a set fits any version whose figure is at least what it wrote. Still
    sound (writes in warehouse order are never stale), weaker: only a figure above every later
    version's is caught. Returns (stale, unmatched)."""
    floor: dict[str, int] = {}
    stale: list[str] = []
    unmatched = 0
    for m in mutations:
        sku = str(m["sku"])
        versions = history.get(sku, [(0, 0)])
        want = int(m["to"])
        at = floor.get(sku, 0)
        later = [seq for seq, figure in versions if _fits(want, figure, less_demand) and seq >= at]
        if later:
            floor[sku] = later[0]
        elif any(_fits(want, figure, less_demand) for _, figure in versions):
            stale.append(f"{sku}: set {want} (a figure from before v{at}) at {m['at']}")
        else:
            unmatched += 1
    return stale, unmatched


def _fits(written: int, figure: int, less_demand: bool) -> bool:
    """A set of `written` could come from a warehouse version whose figure is `figure`: equal, or
    with open demand taken off (`subtract_open_demand`: orders not yet allocated, never below 0),
    anything from 0 up to it."""
    return written == figure or (less_demand and 0 <= written <= figure)


def judge_writes(
    mutations: Sequence[Mapping[str, Any]],
    history: Mapping[str, Sequence[tuple[int, int]]],
    *,
    less_demand: bool = False,
) -> WriteReport:
    stale, unmatched = stale_sets(history, mutations, less_demand=less_demand)
    return WriteReport(len(mutations), doubled_sets(mutations), stale, unmatched)
