"""A realistic, seeded stream of warehouse movements, kept valid by a model of the stock it moves.

Shapes follow the Clarus control API (`POST /_control/movements`, docs/simulators/clarus.md).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Movement = dict[str, Any]


def sku_name(index: int) -> str:
    return f"SKU-{index:05d}"


@dataclass
class Traffic:
    """Generates movements for `skus` SKUs at one warehouse; `hot_fraction` of SKUs get most of them."""

    skus: int
    seed: int
    warehouse_id: str = "WH1"
    hot_fraction: float = 0.2
    _rng: random.Random = field(init=False)
    _stock: dict[str, dict[str, int]] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._stock = defaultdict(lambda: defaultdict(int))

    def _pick_sku(self) -> str:
        hot = max(1, int(self.skus * self.hot_fraction))
        if self._rng.random() < 0.8:
            return sku_name(self._rng.randrange(hot))
        return sku_name(self._rng.randrange(self.skus))

    def _move(self, kind: str, sku: str, qty: int, **extra: Any) -> Movement:
        return {
            "warehouse_id": self.warehouse_id,
            "movement_type": kind,
            "sku": sku,
            "quantity": qty,
            **extra,
        }

    def initial_receipts(self) -> Iterator[Movement]:
        """Every SKU received once, so each has stock before the day starts."""
        for index in range(self.skus):
            sku = sku_name(index)
            qty = self._rng.randint(20, 200)
            self._stock[sku]["available"] += qty
            yield self._move("receipt", sku, qty, to_status="available", reference=f"PO-{index:05d}")

    def next(self) -> Movement:
        """One valid movement, chosen from the day's mix."""
        while True:
            movement = self._try_one(self._pick_sku())
            if movement is not None:
                return movement

    def _take(self, sku: str, status: str, most: int) -> int:
        have = self._stock[sku][status]
        return self._rng.randint(1, min(have, most)) if have > 0 else 0

    def _try_one(self, sku: str) -> Movement | None:
        s = self._stock[sku]
        roll = self._rng.random()
        if roll < 0.12:
            qty = self._rng.randint(5, 60)
            s["available"] += qty
            return self._move("receipt", sku, qty, to_status="available")
        if roll < 0.34 and (qty := self._take(sku, "available", 5)):
            s["available"] -= qty
            s["allocated"] += qty
            return self._move("allocate", sku, qty)
        if roll < 0.50 and (qty := self._take(sku, "allocated", 5)):
            s["allocated"] -= qty
            s["picked"] += qty
            return self._move("pick", sku, qty, from_status="allocated")
        if roll < 0.66 and (qty := self._take(sku, "picked", 5)):
            s["picked"] -= qty
            return self._move("despatch", sku, qty)
        if roll < 0.69 and (qty := self._take(sku, "allocated", 3)):
            s["allocated"] -= qty
            s["available"] += qty
            return self._move("deallocate", sku, qty)
        if roll < 0.75 and (qty := self._take(sku, "available", 10)):
            s["available"] -= qty
            s["quarantine"] += qty
            return self._move("status_change", sku, qty, from_status="available", to_status="quarantine")
        if roll < 0.80 and (qty := self._take(sku, "quarantine", 10)):
            s["quarantine"] -= qty
            s["available"] += qty
            return self._move("status_change", sku, qty, from_status="quarantine", to_status="available")
        if roll < 0.84 and (qty := self._take(sku, "available", 3)):
            s["available"] -= qty
            s["damaged"] += qty
            return self._move("status_change", sku, qty, from_status="available", to_status="damaged")
        if roll < 0.87 and (qty := self._take(sku, "damaged", 3)):
            s["damaged"] -= qty
            return self._move("write_off", sku, qty, from_status="damaged")
        if roll < 0.91 and (qty := self._take(sku, "available", 10)):
            s["available"] -= qty
            s["in_transfer"] += qty
            return self._move("transfer_out", sku, qty)
        if roll < 1.0:
            counted = max(0, s["available"] + self._rng.randint(-3, 3))
            s["available"] = counted
            return {
                "warehouse_id": self.warehouse_id,
                "movement_type": "count",
                "sku": sku,
                "counted_quantity": counted,
                "to_status": "available",
            }
        return None
