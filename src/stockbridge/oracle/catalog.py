"""SKUs, kits and ship methods as the configuration documents them (docs/orders.md,
docs/configuration.md), written for the oracle alone: small, plain, and separate from the hub's
domain rules so that a bug there shows as a difference here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stockbridge.oracle.settings import SkuSettings

# The warehouse accepts letters, digits, '-' and '_', 1 to 50 of them (docs/simulators/clarus.md).
WMS_SKU_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
KIT_LEVELS = 5  # decision 0006: kits nested deeper than five levels hold the order


def warehouse_sku(ims_sku: str, rules: SkuSettings) -> str:
    """Trim, alias (any case), strip characters, case, then leading zeros of an all-digit SKU."""
    sku = ims_sku.strip()
    for source, alias in rules.aliases.items():
        if source.strip().casefold() == sku.casefold():
            sku = alias.strip()
            break
    sku = "".join(c for c in sku if c not in rules.strip_characters)
    if rules.case == "upper":
        sku = sku.upper()
    elif rules.case == "lower":
        sku = sku.lower()
    if sku.isdigit() and rules.leading_zeros == "strip":
        sku = sku.lstrip("0") or "0"
    elif sku.isdigit() and rules.leading_zeros == "pad":
        sku = sku.rjust(rules.pad_width, "0")
    return sku


def acceptable_in_wms(sku: str) -> bool:
    return 0 < len(sku) <= 50 and all(c in WMS_SKU_CHARACTERS for c in sku)


def ship_code(title: str | None, table: Mapping[str, str]) -> str | None:
    """The warehouse code for an IMS shipping title, matched ignoring case and spacing; no default."""
    if not title:
        return None
    wanted = " ".join(title.split()).casefold()
    for name, code in table.items():
        if " ".join(name.split()).casefold() == wanted:
            return code
    return None


class KitProblem(Exception):
    """A kit that cannot be taken apart: it contains itself, is nested too deep, or has no members."""


@dataclass(frozen=True)
class ImsItem:
    active: bool
    members: tuple[tuple[str, int], ...] = ()  # a kit's (member SKU, quantity); empty for stock items

    @property
    def is_kit(self) -> bool:
        return bool(self.members)


@dataclass(frozen=True)
class Catalog:
    """Both product masters as the simulators hold them."""

    ims: Mapping[str, ImsItem]
    wms: Mapping[str, bool]  # Clarus SKU -> active
    rules: SkuSettings = field(default_factory=SkuSettings)
    colliding: frozenset[str] = field(default_factory=frozenset)  # warehouse SKUs two IMS SKUs share

    @classmethod
    def read(
        cls, ims_state: Mapping[str, Any], clarus_items: Mapping[str, Any], rules: SkuSettings
    ) -> Catalog:
        """From IMS `GET /_control/state` and Clarus `GET /_control/items`."""
        ims = {
            sku: ImsItem(
                not item.get("isInactive", False),
                tuple((str(m["itemId"]), round(float(m["quantity"]))) for m in item.get("members") or []),
            )
            for sku, item in ims_state["items"].items()
        }
        sources: dict[str, set[str]] = defaultdict(set)
        for sku, item in ims_state["items"].items():
            if item.get("itemType") != "Kit":
                sources[warehouse_sku(sku, rules)].add(sku)
        colliding = frozenset(wms for wms, skus in sources.items() if len(skus) > 1)
        wms = {sku: bool(item.get("active", True)) for sku, item in clarus_items.items()}
        return cls(ims, wms, rules, colliding)

    def components(self, sku: str, quantity: int) -> list[tuple[str, int]]:
        """The stock items (IMS SKUs) behind `quantity` × `sku`, kits inside kits flattened, in
        member order, the same SKU met twice added up."""
        out: dict[str, int] = {}
        self._collect(sku, quantity, [], out)
        return list(out.items())

    def _collect(self, sku: str, quantity: int, kits_above: list[str], out: dict[str, int]) -> None:
        item = self.ims.get(sku)
        if item is None or not item.is_kit:
            out[sku] = out.get(sku, 0) + quantity
            return
        if sku in kits_above:
            raise KitProblem(f"kit {kits_above[0]} contains itself through {sku}")
        if len(kits_above) >= KIT_LEVELS:
            raise KitProblem(f"kit {kits_above[0]} is nested more than {KIT_LEVELS} levels deep")
        for member, per in item.members:
            if per <= 0:
                raise KitProblem(f"kit {sku} lists {member} with quantity {per}")
            self._collect(member, quantity * per, [*kits_above, sku], out)
