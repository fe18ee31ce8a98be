"""Allocation across channels: how one warehouse's sellable stock is offered to the channels sharing it.

Pure (docs/allocation.md, docs/decisions/0033). Three rules, per warehouse:

- `pool` (the default, and what the hub did before rules existed): every channel is offered the
  whole sellable pool minus its own buffer. Channels may oversell one another between pushes; the
  buffers are the guard.
- `shares`: the pool is split in fixed shares (which add up to at most 1) by the largest-remainder
  method, so the parts never add up to more than the pool; each channel's buffer comes off its part.
- `priority`: channels in order; each takes what is left of the pool, up to its cap (none: all of
  it), and its buffer comes off what it took. The buffer's units are held back, not passed on.

A rule splits the pool among the channels it names (storefronts). A channel it does not name (the
IMS, which keeps the book figure of its own statuses and commits its own orders) is offered its pool
figure. The split pool is the smallest sellable figure of the channels it names: when they count
the same statuses (the usual case) that is simply their pool; when they do not, no channel's part
can exceed what every one of them could sell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

AllocationKind = Literal["pool", "shares", "priority"]


@dataclass(frozen=True, slots=True)
class ChannelStock:
    """One channel's view of one SKU at one warehouse: what it could sell, and its buffer."""

    sellable: int  # units in the statuses it counts, less open demand when it takes that off
    buffer: int


@dataclass(frozen=True, slots=True)
class AllocationRule:
    kind: AllocationKind = "pool"
    shares: Mapping[str, Fraction] = field(default_factory=dict)  # kind shares; sum at most 1
    priority: tuple[str, ...] = ()  # kind priority: first served first
    caps: Mapping[str, int] = field(default_factory=dict)  # kind priority: most a channel takes

    def split_channels(self) -> frozenset[str]:
        """The channels sharing the split pool (none under `pool`)."""
        if self.kind == "shares":
            return frozenset(self.shares)
        if self.kind == "priority":
            return frozenset(self.priority)
        return frozenset()


POOL = AllocationRule()


def pool_figure(stock: ChannelStock) -> int:
    return max(0, stock.sellable - stock.buffer)


def allocate(rule: AllocationRule, stocks: Mapping[str, ChannelStock]) -> dict[str, int]:
    """The figure offered to each channel in `stocks` (never negative)."""
    figures = {channel: pool_figure(stock) for channel, stock in stocks.items()}
    split = [channel for channel in stocks if channel in rule.split_channels()]
    if not split:
        return figures
    pool = max(0, min(stocks[channel].sellable for channel in split))
    if rule.kind == "shares":
        parts = largest_remainder(pool, {channel: rule.shares[channel] for channel in split})
    else:
        parts = _by_priority(pool, [c for c in rule.priority if c in stocks], rule.caps)
    for channel, part in parts.items():
        figures[channel] = max(0, part - stocks[channel].buffer)
    return figures


def largest_remainder(pool: int, shares: Mapping[str, Fraction]) -> dict[str, int]:
    """Split `pool` units by `shares` (each in [0, 1], summing to at most 1) into whole units.

    Each channel gets the floor of its exact quota; the units the floors leave, up to the floor of
    the quotas' sum, go one each to the largest remainders (ties: the order of `shares`). The parts
    add up to floor(pool × sum of shares), never more than the pool: rounding creates no unit.
    """
    quotas = {channel: pool * share for channel, share in shares.items()}
    parts = {channel: int(quota) for channel, quota in quotas.items()}  # floor: quotas are >= 0
    leftover = int(sum(quotas.values(), Fraction(0))) - sum(parts.values())
    order = sorted(quotas, key=lambda c: quotas[c] - parts[c], reverse=True)  # stable: ties keep order
    for channel in order[:leftover]:
        parts[channel] += 1
    return parts


def _by_priority(pool: int, order: list[str], caps: Mapping[str, int]) -> dict[str, int]:
    parts: dict[str, int] = {}
    left = pool
    for channel in order:
        taken = left if channel not in caps else min(left, max(0, caps[channel]))
        parts[channel] = taken
        left -= taken
    return parts
