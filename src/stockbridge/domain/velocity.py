"""Sales velocity classes: how fast a SKU sells, and the buffer that earns it. Pure.

A SKU's velocity is the units it sold over the configured window, per day. Its class is the one with
the highest `min_per_day` it reaches; below every class it has none (and no velocity buffer). More
sales never put a SKU in a slower class, and configuration refuses a faster class with a smaller
buffer, so selling faster never shrinks the buffer (docs/decisions/0033).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DAY_S = 86_400.0
# Which warehouse movements are sales: a despatch is stock leaving for a customer, and happens once
# whatever becomes of the order. An allocation would be an earlier signal, but a cancelled order's
# deallocation undoes it and cannot be told apart from any other (docs/decisions/0033).
DEFAULT_SALES_MOVEMENTS = frozenset({"despatch"})


@dataclass(frozen=True, slots=True)
class VelocityClass:
    name: str
    min_per_day: float
    buffer: int


@dataclass(frozen=True, slots=True)
class Sale:
    """Units of a SKU that left a warehouse to a customer, as one folded movement."""

    event_id: str
    sku: str
    warehouse_id: str
    quantity: int


def per_day(units_sold: int, window_s: float) -> float:
    return max(0, units_sold) * DAY_S / window_s


def classify(units_sold: int, window_s: float, classes: Iterable[VelocityClass]) -> VelocityClass | None:
    """The fastest class whose threshold the SKU's velocity reaches, or None below all of them."""
    rate = per_day(units_sold, window_s)
    reached = [c for c in classes if rate >= c.min_per_day]
    return max(reached, key=lambda c: c.min_per_day, default=None)
