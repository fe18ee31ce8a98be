"""Bundles (NetSuite kit items) de-kitted into the components the warehouse picks. Pure.

A bundle whose members are bundles is flattened: quantities multiply down the tree. A cycle, or a
tree deeper than `MAX_DEPTH`, is refused (docs/decisions/0006).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_DEPTH = 5


@dataclass(frozen=True)
class KitMember:
    sku: str
    quantity: int


class KitError(ValueError):
    """The kit cannot be de-kitted (cycle, too deep, or a member with no quantity)."""


def dekit(sku: str, quantity: int, kits: Mapping[str, Sequence[KitMember]]) -> list[tuple[str, int]]:
    """The physical components of `quantity` × `sku`, in member order, same SKUs merged."""
    merged: dict[str, int] = {}
    _walk(sku, quantity, kits, (), merged)
    return list(merged.items())


def _walk(
    sku: str,
    quantity: int,
    kits: Mapping[str, Sequence[KitMember]],
    path: tuple[str, ...],
    out: dict[str, int],
) -> None:
    if sku in path:
        raise KitError(f"kit {path[0]} contains itself through {' > '.join((*path, sku))}")
    if len(path) > MAX_DEPTH:
        raise KitError(f"kit {path[0]} is nested more than {MAX_DEPTH} deep")
    members = kits.get(sku)
    if members is None:
        out[sku] = out.get(sku, 0) + quantity
        return
    if not members:
        raise KitError(f"kit {sku} has no members")
    for member in members:
        if member.quantity <= 0:
            raise KitError(f"kit {sku} lists {member.sku} with quantity {member.quantity}")
        _walk(member.sku, quantity * member.quantity, kits, (*path, sku), out)
