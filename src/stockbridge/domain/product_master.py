"""Product master: which IMS items the warehouse must have, and the SKU audit of both lists. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stockbridge.domain.skus import SkuRules, collisions, normalise, wms_sku_problem


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item of the IMS's product master, as its connector reads it."""

    item_id: str
    sku: str
    is_inactive: bool
    last_modified: str | None
    item_type: str = "InvtPart"


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    active: bool
    is_kit: bool = False


def warehouse_sku(item: CatalogItem, rules: SkuRules) -> tuple[str, str | None] | None:
    """The SKU the warehouse holds a physical IMS item under, and why it would refuse it (None: it
    would not); None for a kit, which the warehouse does not stock. One item of `plan_sync`, for a
    sync that reads the catalogue a page at a time (flows/order_sync.sync_products)."""
    if item.is_kit:
        return None
    wms_sku = normalise(item.sku, rules)
    problem = wms_sku_problem(wms_sku)
    return wms_sku, None if problem is None else f"{wms_sku!r} {problem}"


@dataclass
class SyncPlan:
    puts: list[tuple[str, bool, str]] = field(default_factory=list)  # (warehouse SKU, active, IMS SKU)
    collisions: dict[str, list[str]] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)  # IMS SKU → why the warehouse cannot take it


def plan_sync(ims: Sequence[CatalogItem], wms: Mapping[str, bool], rules: SkuRules) -> SyncPlan:
    """The item upserts that make the warehouse hold every physical IMS item, active as in the IMS.

    The whole catalogue at once: the product sync finds the same plan a page at a time (in SQL,
    over `warehouse_sku` of each item), and a test holds the two to the same answer.

    Kits are not physical: the warehouse stocks their components. SKUs that collide after
    normalisation are not synced at all (which one would win is a merchandising decision).
    """
    plan = SyncPlan()
    physical = [item for item in ims if not item.is_kit]
    plan.collisions = collisions([item.sku for item in physical], rules)
    for item in physical:
        wms_sku = normalise(item.sku, rules)
        if wms_sku in plan.collisions:
            continue
        problem = wms_sku_problem(wms_sku)
        if problem is not None:
            plan.invalid[item.sku] = f"{wms_sku!r} {problem}"
            continue
        current = wms.get(wms_sku)
        if current is None and not item.active:
            continue
        if current != item.active:
            plan.puts.append((wms_sku, item.active, item.sku))
    return plan


@dataclass(frozen=True)
class SkuAudit:
    missing_in_wms: list[str]
    extra_in_wms: list[str]
    inactive_mismatch: list[dict[str, object]]
    collisions: list[dict[str, object]]

    def as_json(self) -> dict[str, list[object]]:
        return {
            "missing_in_wms": list(self.missing_in_wms),
            "extra_in_wms": list(self.extra_in_wms),
            "inactive_mismatch": list(self.inactive_mismatch),
            "collisions": list(self.collisions),
        }


def audit(ims: Sequence[CatalogItem], wms: Mapping[str, bool], rules: SkuRules) -> SkuAudit:
    physical = [item for item in ims if not item.is_kit]
    by_wms: dict[str, CatalogItem] = {}
    for item in physical:
        by_wms.setdefault(normalise(item.sku, rules), item)
    missing = sorted(item.sku for sku, item in by_wms.items() if item.active and sku not in wms)
    extra = sorted(sku for sku in wms if sku not in by_wms)
    mismatch = [
        {"sku": sku, "ims_sku": item.sku, "ims_active": item.active, "wms_active": wms[sku]}
        for sku, item in sorted(by_wms.items())
        if sku in wms and wms[sku] != item.active
    ]
    found = collisions([item.sku for item in physical], rules)
    return SkuAudit(
        missing,
        extra,
        mismatch,
        [{"wms_sku": sku, "ims_skus": skus} for sku, skus in sorted(found.items())],
    )
