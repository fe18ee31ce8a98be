"""The few plain configuration values the oracle needs, read from the configuration's data.

Read from the mapping the YAML file holds (or `Config.model_dump()`), key by key as
docs/configuration.md documents them, with the documented defaults: the oracle does not use the
hub's config model, whose helpers (`ats_rule`, `sku_rules.rules()`) are the rules under test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class TargetSettings:
    """One channel: the Clarus statuses that count for it and its safety buffers."""

    counted_statuses: frozenset[str]
    buffer: int = 0
    sku_buffers: Mapping[str, int] = field(default_factory=dict)
    classes: tuple[tuple[int, tuple[str, ...]], ...] = ()  # (buffer, SKU patterns), in file order

    def buffer_for(self, sku: str) -> int:
        if sku in self.sku_buffers:
            return self.sku_buffers[sku]
        for buffer, patterns in self.classes:
            if any(fnmatchcase(sku, pattern) for pattern in patterns):
                return buffer
        return self.buffer


@dataclass(frozen=True)
class SkuSettings:
    """`sku_rules` as written in the configuration."""

    strip_characters: str = ""
    case: str = "keep"  # upper | lower | keep
    leading_zeros: str = "keep"  # keep | strip | pad
    pad_width: int = 0
    aliases: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoreSettings:
    """One storefront under `storefronts:`: where its simulator (or store) answers, and which Clarus
    warehouse feeds which of its locations."""

    base_url: str  # `base_url`, else https://{shop_domain}
    locations: Mapping[str, str] = field(default_factory=dict)  # Clarus warehouse -> location gid
    kind: str = "shopify"  # `kind`: shopify (locations are location gids) or magento (MSI source codes)


@dataclass(frozen=True)
class SplitSettings:
    """`allocation.<warehouse>` as written: how the storefronts it names share that warehouse's
    stock (docs/allocation.md). `pool` names nobody."""

    rule: str = "pool"  # pool | shares | priority
    shares: Mapping[str, Fraction] = field(default_factory=dict)  # the written decimals, exactly
    priority: tuple[str, ...] = ()
    caps: Mapping[str, int] = field(default_factory=dict)

    def named(self) -> tuple[str, ...]:
        if self.rule == "shares":
            return tuple(self.shares)
        return self.priority if self.rule == "priority" else ()


@dataclass(frozen=True)
class OracleSettings:
    targets: Mapping[str, TargetSettings]
    locations: Mapping[str, str]  # Clarus warehouse -> IMS location id
    storefronts: Mapping[str, StoreSettings] = field(default_factory=dict)  # by channel name
    sku_rules: SkuSettings = field(default_factory=SkuSettings)
    ship_methods: Mapping[str, str] = field(default_factory=dict)  # IMS title -> Clarus code
    release_statuses: frozenset[str] = frozenset({"B"})
    order_warehouse: str = ""
    allocation: Mapping[str, SplitSettings] = field(default_factory=dict)  # by Clarus warehouse

    def channel_locations(self, channel: str) -> Mapping[str, str]:
        """Clarus warehouse -> the channel's location: a storefront's own `locations` map, else
        `locations:` (the IMS's)."""
        store = self.storefronts.get(channel)
        return self.locations if store is None else store.locations

    @classmethod
    def from_config_data(cls, data: Mapping[str, Any]) -> OracleSettings:
        statuses: Mapping[str, Any] = data.get("inventory_statuses") or {}
        targets_data: Mapping[str, Any] = data.get("targets") or {"ims": {}}
        targets = {
            name: TargetSettings(
                frozenset(s for s, m in statuses.items() if name in _names((m or {}).get("counts_for"))),
                int((settings or {}).get("buffer", 0)),
                {str(k): int(v) for k, v in ((settings or {}).get("sku_buffers") or {}).items()},
                tuple(
                    (int(c["buffer"]), tuple(str(p) for p in c["skus"]))
                    for c in ((settings or {}).get("classes") or {}).values()
                ),
            )
            for name, settings in targets_data.items()
        }
        locations = {str(m["warehouse"]): str(m["ims_location"]) for m in data.get("locations") or []}
        storefronts = {
            str(name): StoreSettings(
                str(store.get("base_url") or f"https://{store['shop_domain']}").rstrip("/"),
                {str(w): str(gid) for w, gid in (store.get("locations") or {}).items()},
                str(store.get("kind") or "shopify"),
            )
            for name, store in (data.get("storefronts") or {}).items()
        }
        rules: Mapping[str, Any] = data.get("sku_rules") or {}
        orders: Mapping[str, Any] = data.get("orders") or {}
        return cls(
            targets=targets,
            locations=locations,
            storefronts=storefronts,
            sku_rules=SkuSettings(
                strip_characters=str(rules.get("strip_characters", "")),
                case=str(rules.get("case", "keep")),
                leading_zeros=str(rules.get("leading_zeros", "keep")),
                pad_width=int(rules.get("pad_width", 0)),
                aliases={str(k): str(v) for k, v in (rules.get("aliases") or {}).items()},
            ),
            ship_methods={str(k): str(v) for k, v in (orders.get("ship_methods") or {}).items()},
            release_statuses=frozenset(_names(orders.get("release_statuses") or ["B"])),
            order_warehouse=str(orders.get("warehouse") or next(iter(locations), "")),
            allocation={
                str(warehouse): SplitSettings(
                    str(split.get("rule", "pool")),
                    {str(c): Fraction(str(v)) for c, v in (split.get("shares") or {}).items()},
                    tuple(str(c) for c in split.get("priority") or ()),
                    {str(c): int(v) for c, v in (split.get("caps") or {}).items()},
                )
                for warehouse, split in (data.get("allocation") or {}).items()
            },
        )


def _names(value: Iterable[str] | None) -> set[str]:
    return {str(v) for v in value or ()}
