"""Sales orders on their way to the warehouse: the validation and transform pipeline. Pure.

Each step is a small function; the pipeline runs all of them and returns either the warehouse
order or every reason it cannot be sent yet. Never a half-valid order (DESIGN.md section 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from stockbridge.domain.bundles import KitError, KitMember, dekit
from stockbridge.domain.shipping import Address, address_problems, map_ship_method
from stockbridge.domain.skus import SkuRules, collisions, normalise, wms_sku_problem

# NetSuite sales order statuses (../shared/reference/netsuite.md).
PENDING_APPROVAL = "A"
PENDING_FULFILLMENT = "B"
CANCELLED = "C"


@dataclass(frozen=True)
class OrderLine:
    line: int
    sku: str
    quantity: int
    quantity_fulfilled: int = 0
    is_closed: bool = False

    @property
    def open_quantity(self) -> int:
        """What the warehouse still has to ship: a line fulfilled by hand in the IMS asks for less."""
        return 0 if self.is_closed else max(0, self.quantity - self.quantity_fulfilled)


@dataclass(frozen=True)
class SalesOrder:
    ims_id: str
    reference: str
    status: str
    ship_method: str | None
    address: Address | None
    lines: tuple[OrderLine, ...]
    last_modified: str
    email: str = ""  # the customer's, for the shipment notification

    @property
    def open_lines(self) -> tuple[OrderLine, ...]:
        return tuple(line for line in self.lines if line.open_quantity > 0)


@dataclass(frozen=True)
class WmsLine:
    line_ref: str
    sku: str
    quantity: int
    parent_line: int  # the IMS order line; de-kitted components roll back up to it


@dataclass(frozen=True)
class WmsOrder:
    reference: str
    warehouse_id: str
    ship_method: str
    ship_to: Address
    lines: tuple[WmsLine, ...]


@dataclass(frozen=True)
class HoldReason:
    code: str
    detail: str


@dataclass(frozen=True)
class ItemInfo:
    active: bool
    is_kit: bool = False


@dataclass(frozen=True)
class OrderContext:
    """Everything the pipeline consults: catalogs of both systems, kits, rules, the mapping table."""

    warehouse_id: str
    ims_items: Mapping[str, ItemInfo]
    wms_items: Mapping[str, bool]  # normalised SKU → active in the warehouse
    kits: Mapping[str, Sequence[KitMember]]
    sku_rules: SkuRules
    ship_methods: Mapping[str, str]
    release_statuses: frozenset[str] = frozenset({PENDING_FULFILLMENT})

    @cached_property
    def collisions(self) -> dict[str, list[str]]:
        """Warehouse SKU → the IMS SKUs that all become it. Kits are left out: they are never sent."""
        return collisions([sku for sku, info in self.ims_items.items() if not info.is_kit], self.sku_rules)


@dataclass
class _Result:
    lines: list[WmsLine] = field(default_factory=list)
    holds: list[HoldReason] = field(default_factory=list)


def ims_item_problems(sku: str, ctx: OrderContext) -> list[HoldReason]:
    info = ctx.ims_items.get(sku)
    if info is None:
        return [HoldReason("unknown_item", f"{sku} is not an item in the IMS")]
    if not info.active:
        return [HoldReason("inactive_item", f"{sku} is inactive in the IMS")]
    return []


def components_of(line: OrderLine, ctx: OrderContext) -> tuple[list[tuple[str, int]], list[HoldReason]]:
    """The physical SKUs and quantities behind one order line (a bundle is de-kitted)."""
    if line.sku not in ctx.kits:
        return [(line.sku, line.open_quantity)], []
    try:
        parts = dekit(line.sku, line.open_quantity, ctx.kits)
    except KitError as exc:
        return [], [HoldReason("bad_kit", str(exc))]
    holds = [hold for sku, _ in parts for hold in ims_item_problems(sku, ctx)]
    return parts, holds


def warehouse_sku(sku: str, ctx: OrderContext) -> tuple[str, list[HoldReason]]:
    """The SKU as the warehouse knows it, with why it cannot be used if it cannot."""
    wms = normalise(sku, ctx.sku_rules)
    problem = wms_sku_problem(wms)
    if problem is not None:
        return wms, [HoldReason("invalid_sku", f"{sku} → {wms!r} {problem}")]
    colliding = ctx.collisions.get(wms)
    if colliding is not None:
        # The product sync creates neither (which one wins is merchandising's call), and sending the
        # order anyway could ship the other item: held until one is renamed.
        named = " and ".join([", ".join(colliding[:-1]), colliding[-1]])
        both = "both" if len(colliding) == 2 else "all"
        detail = f"IMS SKUs {named} {both} become {wms} in the warehouse: rename one"
        return wms, [HoldReason("sku_collision", detail)]
    active = ctx.wms_items.get(wms)
    if active is None:
        return wms, [HoldReason("unknown_in_wms", f"{wms} (from {sku}) is not an item in the warehouse yet")]
    if not active:
        return wms, [HoldReason("inactive_in_wms", f"{wms} is inactive in the warehouse")]
    return wms, []


def transform_lines(order: SalesOrder, ctx: OrderContext) -> _Result:
    result = _Result()
    for line in order.open_lines:
        holds = ims_item_problems(line.sku, ctx)
        if holds:
            result.holds.extend(holds)
            continue
        parts, holds = components_of(line, ctx)
        result.holds.extend(holds)
        for index, (sku, quantity) in enumerate(parts, start=1):
            wms, problems = warehouse_sku(sku, ctx)
            result.holds.extend(problems)
            ref = str(line.line) if line.sku not in ctx.kits else f"{line.line}.{index}"
            result.lines.append(WmsLine(ref, wms, quantity, line.line))
    return result


def prepare(order: SalesOrder, ctx: OrderContext) -> WmsOrder | list[HoldReason]:
    """The order the warehouse should hold, or every reason it cannot be sent."""
    result = transform_lines(order, ctx)
    code = map_ship_method(order.ship_method, ctx.ship_methods)
    if code is None:
        title = order.ship_method or "(none)"
        result.holds.append(
            HoldReason("unmapped_ship_method", f"ship method {title!r} has no warehouse code")
        )
    problems = address_problems(order.address)
    if problems:
        result.holds.append(HoldReason("incomplete_address", "; ".join(problems)))
    if result.holds:
        return _unique(result.holds)
    assert code is not None
    assert order.address is not None
    return WmsOrder(order.reference, ctx.warehouse_id, code, order.address, tuple(result.lines))


def _unique(holds: list[HoldReason]) -> list[HoldReason]:
    return list(dict.fromkeys(holds))


def is_newer(candidate: str, current: str) -> bool:
    """Order versions are 'stamp#hash' (an IMS or storefront stamp plus a content hash): a later stamp
    wins; the same stamp with other content also counts, since both systems stamp to the second."""
    stamp, _, digest = candidate.partition("#")
    current_stamp, _, current_digest = current.partition("#")
    return stamp > current_stamp or (stamp == current_stamp and digest != current_digest)
