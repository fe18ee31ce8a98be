"""Which dirty target is pushed first (DESIGN.md section 3): pure, the clock passed in.

Decreases before increases (a decrease prevents an oversell, an increase only delays a sale), then
low stock, then fast movers. A lower number is pushed sooner.
"""

from __future__ import annotations

DECREASE = 0
LOW_STOCK = 1
FAST_MOVER = 2
INCREASE = 3

LOW_STOCK_THRESHOLD = 5
FAST_MOVER_MOVEMENTS = 10


def push_priority(desired: int, pushed: int | None, movements_since_push: int) -> int:
    """Priority band of a dirty target. `pushed` is None when nothing was ever pushed."""
    if pushed is not None and desired < pushed:
        return DECREASE
    if desired <= LOW_STOCK_THRESHOLD:
        return LOW_STOCK
    if movements_since_push >= FAST_MOVER_MOVEMENTS:
        return FAST_MOVER
    return INCREASE
