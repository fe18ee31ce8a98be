"""The daily finance batch: warehouse adjustments with financial effect, posted once a day per
location to the IMS (DESIGN.md §1 and §3, docs/decisions/0030). Pure rules, no I/O.

Which movements are financial, and with which reason, is the warehouse connector's reading of its
own movement types (`StockMovement.reason`); whether a reason is posted, and to which account, is
configuration (`finance.reasons`). A financial movement's *units* are what it changed in the figure
the IMS is told (the statuses the IMS target counts): damaging 3 available units is -3, writing off
stock that was already damaged is 0 (the IMS never held it), a count that found 2 more is +2.

Units move in the IMS once. Until its batch posts, a movement's units are *held back* from the IMS
target (`add_back`: damaged units stay on the IMS's figure, found units stay off it); the batch
moves the IMS by the same units, and the hold ends in the transaction that records the post.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

# The reasons with financial effect (docs/configuration.md, `finance.reasons`).
DAMAGE = "DAMAGE"  # stock found damaged (or repaired back): moved into or out of a damaged status
WRITE_OFF = "WRITE_OFF"  # stock written off: gone from the building's books
COUNT = "COUNT"  # a stock take corrected the figure (up or down)
REASONS: tuple[str, ...] = (DAMAGE, WRITE_OFF, COUNT)

BATCH_PREFIX = "FIN"


def counted_change(
    quantity: int, from_status: str | None, to_status: str | None, counted: frozenset[str]
) -> int:
    """What a movement changed in the sum of the `counted` statuses: `quantity` units left
    `from_status` and arrived in `to_status` (either may be None: a write-off has no destination, a
    count none to come from, and its quantity is signed)."""
    change = 0
    if from_status is not None and from_status in counted:
        change -= quantity
    if to_status is not None and to_status in counted:
        change += quantity
    return change


def business_date(occurred_at: datetime, zone: tzinfo) -> date:
    """The day a movement belongs to, in the finance team's time zone."""
    return occurred_at.astimezone(zone).date()


def closing_through(now: datetime, post_at: time, zone: tzinfo) -> date:
    """The latest business day whose batch may be made: today once `post_at` has passed, else
    yesterday."""
    local = now.astimezone(zone)
    return local.date() if local.time() >= post_at else local.date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class FinancialMovement:
    """A warehouse movement with financial effect, as the hub keeps it until its batch posts."""

    event_id: str  # the warehouse's event id: one movement is recorded once however often it arrives
    sku: str
    warehouse_id: str
    location: str  # the IMS location fed by the warehouse
    reason: str
    units: int  # change in the IMS's figure (signed)
    business_date: date


@dataclass(frozen=True, slots=True)
class FinanceLine:
    """One line of an adjustment: a SKU's units for one reason."""

    sku: str
    reason: str
    units: int  # adjustQtyBy: never 0 (NetSuite refuses a line that adjusts by nothing)


@dataclass(frozen=True, slots=True)
class FinanceBatch:
    """One inventory adjustment: a location's movements of one business day booked to one account.

    NetSuite's inventory adjustment has one `account` for the whole record (the offset of every
    line), so reasons booked to different accounts make separate adjustments (decision 0030)."""

    id: str  # the adjustment's external id: the same on every attempt, so a re-post replaces itself
    location: str
    business_date: date
    account: str
    lines: tuple[FinanceLine, ...]

    @property
    def control_units(self) -> int:
        """Net units of the adjustment: the sum of its lines' adjustQtyBy."""
        return sum(line.units for line in self.lines)

    @property
    def memo(self) -> str:
        """The control total, in the record's memo, where finance and the read-back see it."""
        reasons = ",".join(sorted({line.reason for line in self.lines}))
        return (
            f"stockbridge finance {self.business_date.isoformat()} {reasons}: "
            f"control {self.control_units} units in {len(self.lines)} lines"
        )

    def moved_by(self) -> dict[str, int]:
        """SKU -> units the adjustment moves the IMS's figure by."""
        moved: dict[str, int] = defaultdict(int)
        for line in self.lines:
            moved[line.sku] += line.units
        return dict(moved)


def batch_id(location: str, day: date, account: str, sequence: int = 1) -> str:
    """`FIN-<location>-<YYYYMMDD>-<account>`; a later batch of the same day (movements that arrived
    after the first was made) gets `-2`, `-3`, ..."""
    base = f"{BATCH_PREFIX}-{location}-{day:%Y%m%d}-{account}"
    return base if sequence == 1 else f"{base}-{sequence}"


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    batch: FinanceBatch
    event_ids: tuple[str, ...]  # the movements it settles (lines that net to 0 included)


def plan_batches(
    movements: Iterable[FinancialMovement],
    accounts: Mapping[str, str],
    through: date,
    made: Mapping[tuple[str, date, str], int] | None = None,
) -> tuple[list[PlannedBatch], list[str]]:
    """Group the movements of business days up to `through` into one batch per (location, day,
    account). `made`: batches already made per (location, day, account), so a later batch gets the
    next sequence. Returns the batches and the event ids of movements whose reason no longer has an
    account (no batch will take them: their hold ends and the stock sync moves their units)."""
    groups: dict[tuple[str, date, str], list[FinancialMovement]] = defaultdict(list)
    unposted: list[str] = []
    for movement in movements:
        if movement.business_date > through:
            continue
        account = accounts.get(movement.reason)
        if account is None:
            unposted.append(movement.event_id)
            continue
        groups[(movement.location, movement.business_date, account)].append(movement)
    planned: list[PlannedBatch] = []
    for key in sorted(groups):
        location, day, account = key
        members = sorted(groups[key], key=lambda m: m.event_id)
        units: dict[tuple[str, str], int] = defaultdict(int)
        for movement in members:
            units[(movement.sku, movement.reason)] += movement.units
        lines = tuple(
            FinanceLine(sku, reason, total) for (sku, reason), total in sorted(units.items()) if total != 0
        )
        sequence = (made or {}).get(key, 0) + 1
        batch = FinanceBatch(batch_id(location, day, account, sequence), location, day, account, lines)
        planned.append(PlannedBatch(batch, tuple(m.event_id for m in members)))
    return planned, sorted(unposted)


def add_back(pending_units: Iterable[int]) -> int:
    """What the IMS target adds to the warehouse's counted stock for movements not yet posted: their
    units undone (damaged units back on, found units off until the batch brings them)."""
    return -sum(pending_units)


@dataclass(frozen=True, slots=True)
class PostedAdjustment:
    """An adjustment as the IMS shows it, read back by external id after the post."""

    external_id: str
    account: str
    memo: str
    lines: tuple[tuple[str, int], ...]  # (SKU, adjustQtyBy)


def read_back_problem(batch: FinanceBatch, posted: PostedAdjustment | None) -> str | None:
    """Why what the IMS shows is not the batch (None: it is). Checked after every post: the control
    total (net units, lines) and the account, and every line, must be the IMS's own."""
    if posted is None:
        return f"adjustment {batch.id} is not in the IMS after its post"
    if posted.account != batch.account:
        return f"adjustment {batch.id} has account {posted.account}, not {batch.account}"
    units = sum(q for _, q in posted.lines)
    if units != batch.control_units or len(posted.lines) != len(batch.lines):
        return (
            f"adjustment {batch.id} shows {units} units in {len(posted.lines)} lines; "
            f"control total {batch.control_units} units in {len(batch.lines)} lines"
        )
    if sorted(posted.lines) != sorted((line.sku, line.units) for line in batch.lines):
        return f"adjustment {batch.id} has other lines than the batch"
    if f"control {batch.control_units} units" not in posted.memo:
        return f"adjustment {batch.id} memo does not carry the control total"
    return None


def pending_by_pair(movements: Sequence[FinancialMovement]) -> dict[tuple[str, str], int]:
    """(SKU, warehouse) -> the add-back of these pending movements."""
    units: dict[tuple[str, str], list[int]] = defaultdict(list)
    for movement in movements:
        units[(movement.sku, movement.warehouse_id)].append(movement.units)
    return {pair: add_back(values) for pair, values in units.items()}
