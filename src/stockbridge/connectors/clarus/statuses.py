"""The inventory statuses Clarus sends (docs/simulators/clarus.md, Model), in its own order.

Kept free of imports so that configuration validation can use it without loading the connector.
A status added by Clarus must be added here before a configuration may map it.
"""

from __future__ import annotations

INVENTORY_STATUSES: tuple[str, ...] = (
    "available",
    "allocated",
    "picked",
    "quarantine",
    "damaged",
    "in_transfer",
    "returned",
    "expired",
    "inbound",
)
