"""What each channel should show per SKU and location, from the Clarus simulator's stock.

DESIGN.md §3: a channel's figure is the sum of the warehouse's quantities in the statuses configured
as counting for that channel, minus the channel's buffer, never below zero. Where `allocation:`
splits a warehouse among storefronts (docs/allocation.md), a store named gets its part of the
smallest of the named stores' counted figures (by shares, largest remainder; or by priority up to
caps), minus its buffer. Velocity buffers (decision 0033) are not modelled: they follow the hub's
own classification schedule, which the simulators' state does not show.

DESIGN.md §3 also says the IMS figure adds back units despatched whose Item Fulfilment has not
posted, and adjustments with financial effect whose daily batch has not posted. The oracle adds
nothing back: the hub does not implement the first yet (docs/fulfilment.md, "Not done yet"), the
Clarus simulator does not take stock on despatch and the IMS simulator does not take it on
fulfilment, and once the hub has converged every fulfilment has posted, so the term is 0. A lost
fulfilment is reported by `fulfilments.check_fulfilments`, not as drift. The finance batch
(docs/decisions/0030) holds units back until its day closes: compare with these figures after the
batch has posted (`oracle/finance.py` judges the batch itself), or with no `finance.reasons` (the
demo and the chaos day configure none).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stockbridge.oracle.settings import OracleSettings, SplitSettings

Key = tuple[str, str]  # (SKU, the channel's location: IMS location id, Shopify location gid)


def expected_figures(
    clarus_state: Mapping[str, Any], settings: OracleSettings, channel: str = "ims"
) -> dict[Key, int]:
    """(SKU, channel location) → the figure `channel` should show, from Clarus `GET /_control/state`."""
    target = settings.targets[channel]
    locations = settings.channel_locations(channel)
    figures: dict[Key, int] = {}
    for warehouse, state in clarus_state["warehouses"].items():
        location = locations.get(warehouse)
        if location is None:
            continue  # an unmapped warehouse feeds no channel
        split = settings.allocation.get(warehouse)
        for sku, by_status in state["stock"].items():
            if split is not None and channel in split.named():
                # docs/allocation.md: the stores named share the smallest of their counted figures.
                sharing = [c for c in split.named() if warehouse in settings.channel_locations(c)]
                pool = min(_counted(by_status, settings, c) for c in sharing)
                mine = _share_of(split, sharing, pool, channel)
            else:
                mine = _counted(by_status, settings, channel)
            figures[(sku, location)] = max(0, mine - target.buffer_for(sku))
    return figures


def _counted(by_status: Mapping[str, Any], settings: OracleSettings, channel: str) -> int:
    statuses = settings.targets[channel].counted_statuses
    return sum(int(q) for status, q in by_status.items() if status in statuses)


def _share_of(split: SplitSettings, sharing: Sequence[str], pool: int, channel: str) -> int:
    """The units of `pool` the rule gives `channel`, before its buffer."""
    if split.rule == "priority":
        left = pool
        for name in split.priority:
            if name not in sharing:
                continue
            took = min(left, split.caps[name]) if name in split.caps else left
            if name == channel:
                return took
            left -= took
        return 0
    # shares: floors of the exact quotas, then one unit each to the largest remainders (ties: the
    # order written) until the floor of the quotas' total is reached.
    quotas = [(name, pool * split.shares[name]) for name in split.shares if name in sharing]
    total = int(sum(q for _, q in quotas))
    floors = {name: int(q) for name, q in quotas}
    ranked = sorted(range(len(quotas)), key=lambda i: (-(quotas[i][1] - floors[quotas[i][0]]), i))
    extra = {quotas[i][0] for i in ranked[: total - sum(floors.values())]}
    return floors[channel] + (1 if channel in extra else 0)


def ims_figures(ims_state: Mapping[str, Any], locations: set[str]) -> dict[Key, int]:
    """(SKU, location) → on hand, from IMS `GET /_control/state`, for the locations the hub feeds."""
    shown: dict[Key, int] = {}
    for sku, item in ims_state["items"].items():
        for location, quantity in (item.get("onHand") or {}).items():
            if location in locations:
                shown[(sku, location)] = round(float(quantity))
    return shown


@dataclass(frozen=True)
class Drift:
    """Where a channel differs from what it should show."""

    keys: int  # (SKU, location) pairs that differ
    units: int  # sum of the differences
    examples: list[tuple[str, str, int, int]] = field(default_factory=list)  # sku, location, want, shown

    def __bool__(self) -> bool:
        return self.keys > 0


def drift(expected: Mapping[Key, int], shown: Mapping[Key, int], examples: int = 10) -> Drift:
    """Compare; a pair missing on one side counts as 0 there."""
    keys = units = 0
    found: list[tuple[str, str, int, int]] = []
    for key in sorted(set(expected) | set(shown)):
        want, have = expected.get(key, 0), shown.get(key, 0)
        if want != have:
            keys += 1
            units += abs(want - have)
            if len(found) < examples:
                found.append((key[0], key[1], want, have))
    return Drift(keys, units, found)


def ims_drift(
    clarus_state: Mapping[str, Any], ims_state: Mapping[str, Any], settings: OracleSettings
) -> Drift:
    """The IMS channel's drift from the warehouse, both read from the simulators."""
    expected = expected_figures(clarus_state, settings, "ims")
    return drift(expected, ims_figures(ims_state, set(settings.locations.values())))


# The hub names the absolute figure each adjustment line sets in its memo ("stockbridge ATS 12 v345").
ATS_MEMO = re.compile(r"\bATS (-?\d+)\b")


def adjustments_off_target(
    lines: Sequence[Mapping[str, Any]], opening: Mapping[Key, int] | None = None
) -> list[dict[str, Any]]:
    """Adjustment lines after which the IMS's on-hand is not the figure the line says it sets.

    `lines`: every inventory adjustment line (`item`, `location`, `quantity`, `memo`) in the order
    the IMS applied them (transaction id, then line). An adjustment applied twice under two external
    ids, or one lost between two others, leaves the running on-hand off the next figure. A push
    retried under its own external id replaces itself and is seen once. The memo is no unique key:
    events folded out of order (each stock row by its own sequence, DESIGN.md §2) can take a SKU
    through the same figure and version twice, so the same memo may rightly appear twice."""
    on_hand: dict[Key, int] = dict(opening or {})
    off: list[dict[str, Any]] = []
    for line in lines:
        key = (str(line["item"]), str(line["location"]))
        on_hand[key] = on_hand.get(key, 0) + round(float(line["quantity"]))
        meant = ATS_MEMO.search(str(line.get("memo") or ""))
        if meant is not None and int(meant.group(1)) != on_hand[key]:
            off.append({**line, "on_hand_after": on_hand[key]})
            on_hand[key] = int(meant.group(1))  # judge each line on its own, not its predecessors' error
    return off
