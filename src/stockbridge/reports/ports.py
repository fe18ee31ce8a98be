"""What the reports read from the outside systems, as ports the connectors implement (DESIGN.md §5).

The IMS's on-hand figures come through the stock channel port (`flows/ports.StockChannel`); what it
booked comes through `AdjustmentLedger`. The warehouse's movements are read from the inbox through
`flows/edge_ports.InboundFormats`. The reports see domain types and plain figures, never a wire format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class AdjustmentLedger(Protocol):
    """The IMS's own record of the inventory adjustments it booked (by the hub or anyone else)."""

    async def adjusted_since(self, location: str, since: datetime) -> dict[str, int]:
        """IMS item id -> net units adjusted at the IMS location since `since` (UTC); items with none
        are absent."""
        ...
