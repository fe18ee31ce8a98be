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
    name: str = ""

    def matches(self, sku: str) -> bool:
        return any(fnmatchcase(sku, pattern) for pattern in self.patterns)


@dataclass(frozen=True, slots=True)
class Buffer:
    """A SKU's buffer for one target, and where it came from (shown by `stockbridge stock show`)."""

    units: int
    source: str  # "sku", "class <name>", "velocity <name>" or "default"


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
    # Whether the SKU's sales-velocity class (domain/velocity.py) may raise its buffer.
    velocity_buffers: bool = False

    def buffer_for(self, sku: str) -> int:
        """The SKU's own buffer if it has one, else its first matching class's, else the default."""
        return self.buffer(sku).units

    def buffer(self, sku: str, velocity: tuple[str, int] | None = None) -> Buffer:
        """The SKU's own buffer if it has one (set by hand, it wins); else the larger of its first
        matching class's (else the default) and, when the rule uses them, its velocity class's
        (`velocity`: (class name, buffer)). A tie keeps the configured one."""
        if self.sku_buffers is not None and sku in self.sku_buffers:
            return Buffer(self.sku_buffers[sku], "sku")
        configured = next(
            (Buffer(c.buffer, f"class {c.name}".strip()) for c in self.classes if c.matches(sku)),
            Buffer(self.default_buffer, "default"),
        )
        if velocity is not None and self.velocity_buffers and velocity[1] > configured.units:
            return Buffer(velocity[1], f"velocity {velocity[0]}")
        return configured


def counted(quantities_by_status: Mapping[str, int], rule: AtsRule) -> int:
    """Units in the statuses the rule counts; negative warehouse figures count as zero."""
    return sum(max(0, qty) for status, qty in quantities_by_status.items() if status in rule.counted_statuses)


def sellable(
    quantities_by_status: Mapping[str, int], rule: AtsRule, open_demand: int = 0, add_back: int = 0
) -> int:
    """What the target could sell before its buffer: counted units plus `add_back`, less open demand
    when the rule takes it off; never below zero (as the buffer is never negative, flooring here
    changes no figure `available_to_sell` gives)."""
    claimed = max(0, open_demand) if rule.subtracts_open_demand else 0
    return max(0, counted(quantities_by_status, rule) + add_back - claimed)


def available_to_sell(
    quantities_by_status: Mapping[str, int],
    rule: AtsRule,
    sku: str,
    open_demand: int = 0,
    add_back: int = 0,
) -> int:
    """ATS of one SKU at one location for one target (with no velocity class and no allocation rule:
    `flows/figures.py` adds those).

    Statuses the rule does not count (quarantine, damaged, in transfer, expired, unknown ones) add
    nothing; negative warehouse figures are treated as zero because a target cannot sell them.
    `open_demand` (units claimed at the warehouse, not yet allocated) is taken off only when the
    rule says so. `add_back` (the IMS only) undoes the units of financial adjustments whose daily
    batch has not posted yet (`domain/finance.py`): the batch, not the sync, moves them.
    """
    claimed = max(0, open_demand) if rule.subtracts_open_demand else 0
    return max(0, counted(quantities_by_status, rule) + add_back - rule.buffer_for(sku) - claimed)
