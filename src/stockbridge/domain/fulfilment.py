"""Shipments back to IMS order lines: de-kitted components roll up to their bundle line. Pure.

A bundle line counts as fulfilled only in whole bundles: after each shipment, the whole bundles
that the components shipped so far allow, minus those already reported (DESIGN.md section 3).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stockbridge.domain.orders import WmsOrder


@dataclass(frozen=True)
class ShippedLine:
    line_ref: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class Shipment:
    shipment_id: str
    reference: str
    carrier: str
    service: str
    tracking_numbers: tuple[str, ...]
    lines: tuple[ShippedLine, ...]
    sequence: int = 0


@dataclass(frozen=True)
class ShipmentNotice:
    """What the customer is told when a parcel of their order leaves the warehouse."""

    reference: str
    shipment_id: str
    recipient: str
    name: str
    carrier: str
    service: str
    tracking_numbers: tuple[str, ...]


class RollupError(ValueError):
    """The shipment names lines the order does not have."""


def _shipped_by_ref(shipments: Sequence[Shipment]) -> Counter[str]:
    total: Counter[str] = Counter()
    for shipment in shipments:
        for line in shipment.lines:
            total[line.line_ref] += line.quantity
    return total


def fulfilled_per_order_line(
    order: WmsOrder, shipments: Sequence[Shipment], per_bundle: Mapping[int, Mapping[str, int]]
) -> dict[int, int]:
    """IMS order line → quantity fulfilled by these shipments (bundles in whole units only).

    `per_bundle` gives, for each bundle line, the component quantities of ONE bundle by warehouse SKU.
    """
    shipped = _shipped_by_ref(shipments)
    known = {line.line_ref for line in order.lines}
    unknown = sorted(set(shipped) - known)
    if unknown:
        raise RollupError(f"shipment lines {unknown} are not on order {order.reference}")
    result: dict[int, int] = {}
    by_parent: dict[int, list[str]] = {}
    for line in order.lines:
        by_parent.setdefault(line.parent_line, []).append(line.line_ref)
    for parent, refs in by_parent.items():
        components = per_bundle.get(parent)
        if components is None:
            result[parent] = sum(shipped[ref] for ref in refs)
            continue
        skus = {line.line_ref: line.sku for line in order.lines if line.parent_line == parent}
        shipped_sku: Counter[str] = Counter()
        for ref in refs:
            shipped_sku[skus[ref]] += shipped[ref]
        result[parent] = min(shipped_sku[sku] // qty for sku, qty in components.items() if qty > 0)
    return result


def to_fulfil_now(
    order: WmsOrder,
    before: Sequence[Shipment],
    this: Shipment,
    per_bundle: Mapping[int, Mapping[str, int]],
) -> dict[int, int]:
    """What this shipment adds, per IMS order line: whole bundles only, none reported twice."""
    after = fulfilled_per_order_line(order, [*before, this], per_bundle)
    earlier = fulfilled_per_order_line(order, before, per_bundle)
    return {line: qty - earlier.get(line, 0) for line, qty in after.items() if qty - earlier.get(line, 0) > 0}
