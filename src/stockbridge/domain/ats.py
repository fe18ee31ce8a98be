"""Available-to-sell: what a target (the IMS, a storefront) should be told it has.

DESIGN.md section 3: ATS = sum of the quantities in the statuses counted *for that target* − the
target's safety buffer, never below zero. A storefront also has the hub's open demand taken off
(units orders claimed that the warehouse has not allocated yet: `domain/demand.py`, decision 0022).
Which statuses count is configuration, per target, because targets subtract different things
themselves (the IMS commits its own orders, so it must receive the allocated and picked stock too; a
storefront receives only what is free to sell).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class BufferClass:
    """A class of SKUs (shell-style patterns, case-sensitive: `MUG-*`, `*-XL`) and their buffer."""

    buffer: int
    patterns: tuple[str, ...]

    def matches(self, sku: str) -> bool:
        return any(fnmatchcase(sku, pattern) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class AtsRule:
    """How one target computes ATS: the statuses it counts and its buffer (default, per SKU class,
    per SKU)."""

    counted_statuses: frozenset[str]
    default_buffer: int = 0
    sku_buffers: Mapping[str, int] | None = None
    classes: tuple[BufferClass, ...] = ()  # in configuration order: the first match wins
    # Take off the units orders claimed that the warehouse has not allocated yet (storefronts; never
    # the IMS, which commits its own orders).
    subtracts_open_demand: bool = False

    def buffer_for(self, sku: str) -> int:
        """The SKU's own buffer if it has one, else its first matching class's, else the default."""
        if self.sku_buffers is not None and sku in self.sku_buffers:
            return self.sku_buffers[sku]
        for sku_class in self.classes:
            if sku_class.matches(sku):
                return sku_class.buffer
        return self.default_buffer


def available_to_sell(
    quantities_by_status: Mapping[str, int],
    rule: AtsRule,
    sku: str,
    open_demand: int = 0,
    add_back: int = 0,
) -> int:
    """ATS of one SKU at one location for one target.

    Statuses the rule does not count (quarantine, damaged, in transfer, expired, unknown ones) add
    nothing; negative warehouse figures are treated as zero because a target cannot sell them.
    `open_demand` (units claimed at the warehouse, not yet allocated) is taken off only when the
    rule says so. `add_back` (the IMS only) undoes the units of financial adjustments whose daily
    batch has not posted yet (`domain/finance.py`): the batch, not the sync, moves them.
    """
    counted = sum(
        max(0, qty) for status, qty in quantities_by_status.items() if status in rule.counted_statuses
    )
    claimed = max(0, open_demand) if rule.subtracts_open_demand else 0
    return max(0, counted + add_back - rule.buffer_for(sku) - claimed)
