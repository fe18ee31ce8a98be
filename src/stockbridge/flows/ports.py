"""Ports: how the flows speak to the outside systems without knowing which one it is (DESIGN.md §5).

A *stock channel* is a system the hub tells how much it may sell: the IMS (its on-hand figure), each
storefront (its available figure per location). The connectors implement the port; the flows see
only these types and the errors in `stockbridge.domain.errors`. Each implementation keeps its own
rate limit inside: the flow only asks `budget_wait()` whether a call could start now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ChannelFigure:
    """One SKU's figure at one of the channel's locations, as the channel shows it now."""

    quantity: int  # its settable figure: IMS on hand, Shopify available
    pushable: bool = True  # False: the channel knows the SKU but will refuse it (inactive item)


@dataclass(frozen=True, slots=True)
class FigureLine:
    """Set one SKU's figure at a location."""

    sku: str
    quantity: int  # absolute figure the channel must show
    # What the channel shows now as far as the hub knows: the figure read before the push, or, on a
    # channel that checks it (`StockChannel.compare_and_set`), the figure the hub last set there.
    # None = do not check.
    expected: int | None
    version: int | None = None  # the hub's version of the figure (the IMS names it in the line's memo)


class StockChannel(Protocol):
    """An outbound stock channel. Calls raise `RetriableError` / `RateLimitedError` (try later),
    `AuthenticationError` (a person must fix the credentials), `RejectedError` (bad input; `.path`
    names the line when the far end says which) or `StaleFigureError` (re-read and recompute)."""

    name: str  # the channel's key in config: "ims", "shopify", ...
    max_lines_per_call: int
    # True: the channel refuses a line whose `expected` is not what it shows (`StaleFigureError`,
    # nothing applied), so the flow may send the figure it last pushed as `expected` without reading
    # first. False: the flow reads before every push (the IMS turns the figure read into a delta).
    compare_and_set: bool

    def budget_wait(self) -> float:
        """Seconds until a call could start (0.0: now)."""
        ...

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        """Current figures at the CHANNEL's location id; a SKU the channel does not know is absent."""
        ...

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        """Set the figures, idempotently at the far end by `batch_id` (sent again, applied once)."""
        ...
