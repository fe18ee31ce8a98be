"""The weekly reconciliation's arithmetic (decision 0028). Pure: domain types and figures in, rows out.

Per SKU and warehouse, in the IMS's measure (the statuses counted for the IMS):

    Clarus:  opening + receipts − shipments ± adjustments (+ unseen) = closing
    IMS:     opening + adjustments posted in the IMS               = closing (read from the IMS)
    difference = IMS closing − Clarus closing, split into the causes the hub knows.

The Clarus side is folded from the movements (and full-snapshot pages) the hub received, by the
warehouse's version, exactly as the stock fold does: an older version never counts. A movement's
effect is the change it made to the counted statuses' sum, so allocating, picking and moving between
two counted statuses count zero, and a put-away from `inbound` into `available` is a receipt of
sellable stock. A snapshot balance that changes a figure is stock that moved without an event the
hub received ("unseen"): its repair by the full sync.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stockbridge.domain.stock import StockBalance, StockMovement

RECEIPT_TYPES = frozenset({"receipt", "putaway", "transfer_in"})
SHIPMENT_TYPES = frozenset({"despatch"})
UNSEEN = "unseen"  # the bucket of snapshot repairs

Key = tuple[str, str]  # (SKU, warehouse)


@dataclass(frozen=True, slots=True)
class TimedBalances:
    """Balances the hub received at one point of the week: a movement's, or a snapshot page's rows."""

    at: datetime
    version_order: int  # the warehouse's sequence: folds happen in this order
    movement_type: str | None  # None: a snapshot row
    balances: tuple[StockBalance, ...]


def from_movement(movement: StockMovement) -> TimedBalances:
    return TimedBalances(movement.occurred_at, movement.sequence, movement.movement_type, movement.balances)


def from_snapshot(balances: Iterable[StockBalance], received_at: datetime) -> list[TimedBalances]:
    return [TimedBalances(b.occurred_at or received_at, b.version, None, (b,)) for b in balances]


@dataclass
class ClarusLedger:
    opening: int = 0
    receipts: int = 0
    shipments: int = 0  # units out (a positive number)
    adjustments: int = 0  # signed
    unseen: int = 0  # signed: changes only a full snapshot showed
    closing: int = 0

    def ties(self) -> bool:
        return self.opening + self.receipts - self.shipments + self.adjustments + self.unseen == self.closing


def clarus_ledgers(
    entries: Iterable[TimedBalances], counted: frozenset[str], start: datetime, end: datetime
) -> dict[Key, ClarusLedger]:
    """Fold every entry by version (per SKU, warehouse and status) and book each one's change of the
    counted sum to the week's opening, one of its columns, or nothing (after `end`)."""
    current: dict[tuple[str, str, str], tuple[int, int]] = {}  # (sku, wh, status) -> (version, qty)
    ledgers: dict[Key, ClarusLedger] = defaultdict(ClarusLedger)
    for entry in sorted(entries, key=lambda e: (e.version_order, e.movement_type is None)):
        if entry.at >= end:
            continue
        changes: dict[Key, int] = defaultdict(int)
        for b in entry.balances:
            status_key = (b.sku, b.warehouse_id, b.status)
            before = current.get(status_key)
            if before is not None and b.version <= before[0]:
                continue  # an older (or the same) version never overwrites a newer one
            current[status_key] = (b.version, b.quantity)
            if b.status in counted:
                changes[(b.sku, b.warehouse_id)] += b.quantity - (0 if before is None else before[1])
        for key, delta in changes.items():
            ledger = ledgers[key]
            ledger.closing += delta
            if entry.at < start:
                ledger.opening += delta
            elif entry.movement_type is None:
                ledger.unseen += delta
            elif entry.movement_type in RECEIPT_TYPES:
                ledger.receipts += delta
            elif entry.movement_type in SHIPMENT_TYPES:
                ledger.shipments -= delta
            else:
                ledger.adjustments += delta
    return dict(ledgers)


@dataclass(frozen=True, slots=True)
class ImsTarget:
    """The hub's IMS target for the SKU at the location, and why it may not be settled."""

    desired: int
    pushed: int | None
    dirty: bool
    blocked: bool
    in_flight: bool


@dataclass(frozen=True, slots=True)
class OpenIssue:
    """An open exception on the SKU (its type, when it was first seen, its detail)."""

    type: str
    first_seen: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class Explanation:
    reason: str
    units: int | None  # its share of the difference; None when the hub cannot size it


@dataclass
class ReconciliationRow:
    sku: str
    warehouse: str
    ims_location: str
    clarus: ClarusLedger
    hub_observed: int  # the counted sum the hub's fold holds now
    ims_adjustments: int  # net adjustments the IMS booked in the week
    ims_closing: int | None  # None: the IMS does not know the SKU
    explanations: list[Explanation] = field(default_factory=list)

    @property
    def ims_opening(self) -> int | None:
        return None if self.ims_closing is None else self.ims_closing - self.ims_adjustments

    @property
    def difference(self) -> int:
        return (self.ims_closing or 0) - self.clarus.closing

    @property
    def explained(self) -> int:
        return sum(e.units or 0 for e in self.explanations)

    @property
    def unexplained(self) -> int:
        return self.difference - self.explained


def explain(
    row: ReconciliationRow,
    *,
    buffer: int,
    target: ImsTarget | None,
    issues: Iterable[OpenIssue],
    awaiting_fulfilment: int,
) -> list[Explanation]:
    """Split `row.difference` into what the hub knows: its fold behind the movements, the IMS's buffer,
    units the IMS target adds back, a figure not pushed yet, blocked, or drifting. What is left is
    unexplained and stays in the row's `unexplained`."""
    found: list[Explanation] = []
    behind = row.hub_observed - row.clarus.closing
    if behind:
        reason = (
            "the hub's folded stock differs from the movements it kept (a row set aside, or folded since)"
        )
        found.append(Explanation(reason, behind))
    counted = max(0, row.hub_observed)
    held_back = min(buffer, counted)
    if held_back:
        found.append(Explanation(f"IMS buffer of {buffer} (targets.ims)", -held_back))
    if target is None:
        if row.ims_closing is None and counted:
            found.append(
                Explanation("the IMS does not know the SKU and the hub has no IMS target for it", None)
            )
        return found
    added = target.desired - (counted - held_back)
    if added:
        reason = "units the IMS target adds back"
        if awaiting_fulfilment:
            reason += f" ({awaiting_fulfilment} despatched, awaiting their Item Fulfilment)"
        found.append(Explanation(reason, added))
    gap = (row.ims_closing or 0) - target.desired
    if not gap:
        return found
    issues = list(issues)
    if target.blocked:
        kinds = ", ".join(
            f"{i.type} open since {i.first_seen:%Y-%m-%d %H:%M}" for i in issues if "sku" in i.type
        )
        found.append(Explanation(f"blocked in the IMS: {kinds or 'target blocked'}", gap))
    elif any(i.type.startswith("drift") for i in issues):
        drift = next(i for i in issues if i.type.startswith("drift"))
        found.append(Explanation(f"drift open since {drift.first_seen:%Y-%m-%d %H:%M}: {drift.detail}", gap))
    elif target.dirty or target.in_flight:
        reason = "adjustment batch pending: the IMS has not acknowledged the new figure yet"
        found.append(Explanation(reason + " (a dead-lettered batch: stockbridge replay --list)", gap))
    return found


def ims_measure(quantities: Mapping[str, int], counted: frozenset[str]) -> int:
    return sum(q for status, q in quantities.items() if status in counted)
