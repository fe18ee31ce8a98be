"""A shipment as its storefront sees it: which of the store's line items it fulfils, with what
tracking. Pure (decision 0023).

The hub rolls a shipment up to order lines first (`domain/fulfilment.to_fulfil_now`: de-kitted
components back to their bundle line, whole bundles only); this maps those order lines to the
store's line items:
- route `clarus`: the hub numbered the store's line items 1, 2, ... in the store's order
  (`StorefrontOrder.as_sales_order`), removed lines included, so line n is the n-th line item;
- route `ims`: the IMS order's lines, through the storefront line item → IMS line mapping the IMS
  route keeps (`storefront_orders.ims_lines`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stockbridge.domain.fulfilment import RollupError, Shipment


@dataclass(frozen=True, slots=True)
class ParcelTracking:
    """The tracking a storefront shows the customer: carrier, number, and a link when known."""

    company: str | None
    number: str | None
    url: str | None = None


def tracking_of(shipment: Shipment) -> ParcelTracking:
    """The shipment's carrier and first tracking number (a storefront fulfilment carries one; it is
    also how a retried create recognises the fulfilment it already made)."""
    number = shipment.tracking_numbers[0] if shipment.tracking_numbers else None
    return ParcelTracking(shipment.carrier or None, number)


def direct_line_items(line_item_ids: Sequence[str]) -> dict[int, str]:
    """Route clarus: order line number → the store's line item id (the store's own order of lines)."""
    return {number: line_item for number, line_item in enumerate(line_item_ids, start=1)}


def ims_line_items(ims_lines: Mapping[str, int]) -> dict[int, str]:
    """Route ims: IMS order line number → the store's line item it was made from."""
    return {line: line_item for line_item, line in ims_lines.items()}


def storefront_lines(fulfil_lines: Mapping[int, int], line_items: Mapping[int, str]) -> dict[str, int]:
    """The store's line items and quantities this shipment fulfils; `RollupError` names an order line
    that has no line item in the store (it cannot be told what shipped)."""
    missing = sorted(line for line in fulfil_lines if line not in line_items)
    if missing:
        raise RollupError(f"order lines {missing} have no line item in the store")
    result: dict[str, int] = {}
    for line, quantity in sorted(fulfil_lines.items()):
        if quantity > 0:
            result[line_items[line]] = result.get(line_items[line], 0) + quantity
    return result
