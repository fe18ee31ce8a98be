"""Stock: locations, inventory statuses, SKU classes and buffers, allocation among storefronts, velocity."""

from __future__ import annotations

import difflib
from fractions import Fraction
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from stockbridge.config.base import _Frozen
from stockbridge.connectors.clarus.statuses import INVENTORY_STATUSES
from stockbridge.domain.allocation import AllocationRule
from stockbridge.domain.velocity import DEFAULT_SALES_MOVEMENTS, VelocityClass


class LocationMapping(_Frozen):
    warehouse: str
    ims_location: str


def _clarus_status(name: str) -> str:
    # A typo (`availabel`) would otherwise be accepted and the stock in the real status would
    # silently count for nothing.
    if name not in INVENTORY_STATUSES:
        close = difflib.get_close_matches(name, INVENTORY_STATUSES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"Clarus never sends inventory status {name!r}; {hint}"
            f"its statuses are {', '.join(INVENTORY_STATUSES)}"
        )
    return name


ClarusStatus = Annotated[str, AfterValidator(_clarus_status)]


class StatusMapping(_Frozen):
    counts_for: frozenset[str] = frozenset()
    owner: str = "operations"


class SkuClass(_Frozen):
    """A buffer for every SKU matching one of `skus` (shell-style patterns: `MUG-*`)."""

    buffer: Annotated[int, Field(ge=0)]
    skus: Annotated[list[str], Field(min_length=1)]


class TargetSettings(_Frozen):
    """One channel's buffers: per SKU, else the first class (in file order) matching it, else `buffer`."""

    buffer: Annotated[int, Field(ge=0)] = 0
    sku_buffers: dict[str, Annotated[int, Field(ge=0)]] = {}
    classes: dict[str, SkuClass] = {}
    # Take off the units orders have claimed that the warehouse has not allocated yet
    # (docs/decisions/0022). Default: yes for a storefront; the IMS never (it commits its own orders).
    subtract_open_demand: bool | None = None
    # A SKU's sales-velocity class may raise its buffer (velocity:, docs/decisions/0033).
    velocity_buffers: bool = False


class AllocationSettings(_Frozen):
    """How one warehouse's sellable stock is split among the storefronts selling it (decision 0033)."""

    rule: Literal["pool", "shares", "priority"] = "pool"
    shares: dict[str, Annotated[float, Field(gt=0, le=1)]] = {}  # rule shares: channel -> share
    priority: list[str] = []  # rule priority: channels, first served first
    caps: dict[str, Annotated[int, Field(ge=0)]] = {}  # rule priority: most a channel takes

    @model_validator(mode="after")
    def _fits_the_rule(self) -> AllocationSettings:
        if self.rule == "shares":
            if not self.shares or self.priority or self.caps:
                raise ValueError("rule shares takes shares: {channel: fraction} (and no priority or caps)")
            total = sum((Fraction(str(s)) for s in self.shares.values()), Fraction(0))
            if total > 1:
                raise ValueError(f"shares add up to {float(total)}, more than the whole pool (1)")
        elif self.rule == "priority":
            if not self.priority or self.shares:
                raise ValueError("rule priority takes priority: [channel, ...] (and no shares)")
            if len(set(self.priority)) != len(self.priority):
                raise ValueError("priority names a channel twice")
            unknown = sorted(set(self.caps) - set(self.priority))
            if unknown:
                raise ValueError(f"caps names {unknown}, which priority does not")
        elif self.shares or self.priority or self.caps:
            raise ValueError("rule pool (the default) takes no shares, priority or caps")
        return self

    def named(self) -> list[str]:
        return list(self.shares) if self.rule == "shares" else list(self.priority)

    def domain_rule(self) -> AllocationRule:
        shares = {c: Fraction(str(s)) for c, s in self.shares.items()}
        return AllocationRule(self.rule, shares, tuple(self.priority), dict(self.caps))


class VelocityClassSettings(_Frozen):
    min_per_day: Annotated[float, Field(gt=0)]  # units sold per day, averaged over velocity.window_s
    buffer: Annotated[int, Field(ge=0)]


class VelocitySettings(_Frozen):
    """Sales velocity classes (domain/velocity.py, decision 0033)."""

    window_s: Annotated[float, Field(gt=0)] = 7 * 86400.0
    classes: Annotated[dict[str, VelocityClassSettings], Field(min_length=1)]
    reclassify_s: Annotated[float, Field(gt=0)] = 3600.0
    # Warehouse movement types that are sales (Clarus: despatch).
    sales_movements: Annotated[frozenset[str], Field(min_length=1)] = DEFAULT_SALES_MOVEMENTS

    @field_validator("classes")
    @classmethod
    def _faster_never_smaller(
        cls, classes: dict[str, VelocityClassSettings]
    ) -> dict[str, VelocityClassSettings]:
        ordered = sorted(classes.items(), key=lambda item: item[1].min_per_day)
        for (slow, a), (fast, b) in pairwise(ordered):
            if a.min_per_day == b.min_per_day:
                raise ValueError(f"{slow} and {fast} have the same min_per_day ({a.min_per_day})")
            if b.buffer < a.buffer:
                raise ValueError(
                    f"{fast} (min_per_day {b.min_per_day}) has a smaller buffer ({b.buffer}) than the "
                    f"slower {slow} ({a.buffer}): selling faster would shrink the buffer"
                )
        return classes

    def velocity_classes(self) -> list[VelocityClass]:
        return [VelocityClass(n, c.min_per_day, c.buffer) for n, c in self.classes.items()]
