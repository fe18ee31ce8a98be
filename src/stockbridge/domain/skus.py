"""SKU normalisation: the IMS's SKU as the warehouse must see it. Pure.

Order of rules (each optional, all from configuration): trim → alias table (matched without regard
to case) → strip configured characters → case → leading zeros (keep, strip, or pad digits-only SKUs
to a width). Then the result is checked against what the warehouse accepts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

WMS_SKU = re.compile(r"[A-Za-z0-9_-]{1,50}")


@dataclass(frozen=True)
class SkuRules:
    strip_characters: str = ""
    case: Literal["upper", "lower", "keep"] = "keep"
    leading_zeros: Literal["keep", "strip", "pad"] = "keep"
    pad_width: int = 0
    aliases: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def _alias_index(self) -> dict[str, str]:
        # Aliases are matched without regard to case or surrounding space.
        return {k.strip().casefold(): v for k, v in self.aliases.items()}

    def alias_of(self, sku: str) -> str | None:
        return self._alias_index.get(sku.strip().casefold())


def normalise(raw: str, rules: SkuRules) -> str:
    sku = raw.strip()
    alias = rules.alias_of(sku)
    if alias is not None:
        sku = alias.strip()
    if rules.strip_characters:
        sku = sku.translate({ord(c): None for c in rules.strip_characters})
    if rules.case == "upper":
        sku = sku.upper()
    elif rules.case == "lower":
        sku = sku.lower()
    if sku.isdigit():
        if rules.leading_zeros == "strip":
            sku = sku.lstrip("0") or "0"
        elif rules.leading_zeros == "pad":
            sku = sku.zfill(rules.pad_width)
    return sku


def wms_sku_problem(sku: str) -> str | None:
    """Why the warehouse would refuse this SKU, or None (letters, digits, '-', '_'; 1 to 50)."""
    if not sku:
        return "is empty after normalisation"
    if len(sku) > 50:
        return f"is {len(sku)} characters long; the warehouse takes at most 50"
    bad = sorted({c for c in sku if not WMS_SKU.fullmatch(c)})
    if bad:
        return f"contains characters the warehouse does not accept: {''.join(bad)!r}"
    return None


def collisions(skus: Iterable[str], rules: SkuRules) -> dict[str, list[str]]:
    """Normalised SKU → the distinct source SKUs that normalise to it, where more than one does."""
    groups: dict[str, set[str]] = defaultdict(set)
    for sku in skus:
        groups[normalise(sku, rules)].add(sku)
    return {norm: sorted(raws) for norm, raws in groups.items() if len(raws) > 1}
