"""The demo's order day: a seeded mix of sales orders in the IMS simulator, edits, cancellations,
manual fulfilments and a warehouse that starts picking, then a check of the Clarus simulator's
orders against what each IMS order, the mappings and the holds say it should be.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from stockbridge.demo.traffic import sku_name
from stockbridge.oracle import OracleSettings, check_orders, read_truth

MAPPED = {"UPS Ground": "STD", "UPS Next Day Air": "NDAY", "FedEx International": "INTL"}
LATE_MAPPED = {"Royal Mail Tracked 24": "STD"}  # operations adds this mapping mid-day
SKU_RULES = {"strip_characters": ".", "case": "upper"}
KITS = {
    "GIFT-BOX": [("SKU-00001", 2), ("SKU-00002", 1)],
    "MEGA-BOX": [("GIFT-BOX", 2), ("SKU-00003", 1)],  # a bundle of bundles: flattened
}
ODD_SKUS = ["odd.sku-7", "lower-case-9", "SKU.00042"]
RETIRED = "SKU-RETIRED"
ADDRESSES: list[dict[str, str]] = [  # IMS shipping addresses
    {"addressee": "Ada Lovelace", "addr1": "12 Analytical St", "addr2": "", "city": "London",
     "state": "", "zip": "N1 9GU", "country": "GB"},
    {"addressee": "Grace Hopper", "addr1": "1 Cobol Way", "addr2": "Apt 4", "city": "Arlington",
     "state": "VA", "zip": "22201", "country": "US"},
    {"addressee": "Emmy Noether", "addr1": "Ringstrasse 5", "addr2": "", "city": "Erlangen",
     "state": "", "zip": "91054", "country": "DE"},
]  # fmt: skip


@dataclass
class PlannedOrder:
    reference: str
    ship_method: str
    address: dict[str, str]
    lines: list[tuple[str, int]]
    status: str = "B"


def create_in_ims(http: httpx.Client, ims_url: str, orders: list[PlannedOrder]) -> dict[str, str]:
    """Create planned sales orders in the IMS simulator; returns reference → internal id."""
    body = {
        "orders": [
            {
                "tranId": p.reference,
                "status": p.status,
                "shipMethod": p.ship_method,
                "email": f"{p.reference.lower()}@example.com",
                "shippingAddress": p.address,
                "lines": [{"itemId": sku, "quantity": qty} for sku, qty in p.lines],
            }
            for p in orders
        ]
    }
    response = http.post(f"{ims_url}/_control/sales_orders", json=body)
    response.raise_for_status()
    return {str(k): str(v) for k, v in response.json()["ids"].items()}


@dataclass
class OrderDay:
    orders: int
    skus: int
    seed: int
    planned: list[PlannedOrder] = field(default_factory=list)
    edited_after_pick: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        stock_skus = [sku_name(i) for i in range(min(self.skus, 200))]
        for n in range(self.orders):
            roll = rng.random()
            lines = [(rng.choice(stock_skus), rng.randint(1, 3)) for _ in range(rng.randint(1, 3))]
            lines = list(dict(lines).items())  # one line per SKU
            ship = rng.choice(list(MAPPED))
            address = rng.choice(ADDRESSES)
            status = "B"
            if roll < 0.10:
                lines.append((rng.choice(list(KITS)), 1))
            elif roll < 0.15:
                lines.append((rng.choice(ODD_SKUS), rng.randint(1, 2)))
            elif roll < 0.20:
                ship = next(iter(LATE_MAPPED))
            elif roll < 0.23:
                address = {**address, "addr2": "", "zip": ""}  # no postcode: held
            elif roll < 0.25:
                lines.append((RETIRED, 1))
            elif roll < 0.30:
                status = "A"
            self.planned.append(PlannedOrder(f"SO{100000 + n}", ship, address, lines, status))

    # --- set-up in the IMS simulator ---------------------------------------------------------------
    def create_catalog(self, http: httpx.Client, ims_url: str) -> None:
        items: list[dict[str, Any]] = [{"itemId": sku} for sku in ODD_SKUS]
        items.append({"itemId": RETIRED, "isInactive": True})
        http.post(f"{ims_url}/_control/items", json={"items": items}).raise_for_status()
        for kit in ("GIFT-BOX", "MEGA-BOX"):  # members first: MEGA-BOX contains GIFT-BOX
            members = [{"itemId": sku, "quantity": qty} for sku, qty in KITS[kit]]
            body = {"items": [{"itemId": kit, "itemType": "Kit", "members": members}]}
            http.post(f"{ims_url}/_control/items", json=body).raise_for_status()

    def create_orders(self, http: httpx.Client, ims_url: str) -> dict[str, str]:
        ids: dict[str, str] = {}
        for start in range(0, len(self.planned), 250):
            ids.update(create_in_ims(http, ims_url, self.planned[start : start + 250]))
        return ids

    # --- the day's changes -------------------------------------------------------------------------
    def make_changes(
        self, http: httpx.Client, ims_url: str, clarus_url: str, ids: dict[str, str]
    ) -> Counter[str]:
        """Warehouse picks some orders; the IMS edits, cancels, fulfils by hand and approves others."""
        rng = random.Random(self.seed + 1)
        done: Counter[str] = Counter()
        in_clarus = http.get(f"{clarus_url}/_control/orders").json()["orders"]
        sent = [p for p in self.planned if p.reference in in_clarus]
        rng.shuffle(sent)
        picking = sent[: len(sent) // 20]
        for p in picking:
            for status in ("allocated", "picking"):
                http.post(f"{clarus_url}/_control/orders/{p.reference}/advance", json={"status": status})
            done["picking"] += 1
        for p in picking[: len(picking) // 2]:  # edited too late: the warehouse keeps what it has
            self.edited_after_pick[p.reference] = in_clarus[p.reference]
            self._edit(http, ims_url, ids[p.reference], quantity=5)
            done["edited_after_pick"] += 1
        rest = sent[len(picking) :]
        for p in rest[: len(rest) // 10]:
            self._edit(http, ims_url, ids[p.reference], quantity=4)
            done["edited"] += 1
        for p in rest[len(rest) // 10 : len(rest) // 10 + len(rest) // 20]:
            http.post(f"{ims_url}/_control/sales_orders/{ids[p.reference]}/cancel").raise_for_status()
            done["cancelled"] += 1
        for p in rest[len(rest) // 10 + len(rest) // 20 :][: len(rest) // 30]:
            body = {"lines": [{"line": 1, "quantity": 1}]}
            http.post(
                f"{ims_url}/_control/sales_orders/{ids[p.reference]}/fulfil", json=body
            ).raise_for_status()
            done["fulfilled_by_hand"] += 1
        for p in self.planned:
            if p.status == "A":
                http.post(f"{ims_url}/_control/sales_orders/{ids[p.reference]}/approve").raise_for_status()
                done["approved"] += 1
        return done

    @staticmethod
    def _edit(http: httpx.Client, ims_url: str, ims_id: str, quantity: int) -> None:
        http.patch(
            f"{ims_url}/_control/sales_orders/{ims_id}", json={"lines": [{"line": 1, "quantity": quantity}]}
        ).raise_for_status()

    # --- the check ---------------------------------------------------------------------------------
    def check(
        self,
        http: httpx.Client,
        ims_url: str,
        clarus_url: str,
        settings: OracleSettings,
        hub_held: Callable[[], dict[str, int]],
        amended: Callable[[], int],
    ) -> dict[str, Any]:
        """Compare each order in the Clarus simulator with what the oracle says the IMS order asks for.
        `held` and `amended` are the hub's own bookkeeping; everything else comes from the simulators."""
        truth = read_truth(http, clarus_url, ims_url)
        planned = {p.reference for p in self.planned}
        report = check_orders(
            {ref: order for ref, order in truth.ims_orders.items() if ref in planned},
            truth.clarus_orders,
            truth.catalog(settings),
            settings,
            frozen=self.edited_after_pick,
        )
        return {
            "total": len(self.planned),
            "released": report.released,
            "held": hub_held(),
            "held_expected": dict(report.held),
            "amended": amended(),
            "cancelled": report.cancelled,
            "mismatches": report.mismatches,
            "mismatched_references": report.mismatched[:20],
            "mismatch_examples": report.examples,
        }
