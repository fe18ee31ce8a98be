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
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.orders import ItemInfo, OrderContext, OrderLine, SalesOrder, WmsOrder, prepare
from stockbridge.domain.shipping import Address
from stockbridge.domain.skus import SkuRules

MAPPED = {"UPS Ground": "STD", "UPS Next Day Air": "NDAY", "FedEx International": "INTL"}
LATE_MAPPED = {"Royal Mail Tracked 24": "STD"}  # operations adds this mapping mid-day
SKU_RULES = {"strip_characters": ".", "case": "upper"}
KITS = {
    "GIFT-BOX": [("SKU-00001", 2), ("SKU-00002", 1)],
    "MEGA-BOX": [("GIFT-BOX", 2), ("SKU-00003", 1)],  # a bundle of bundles: flattened
}
ODD_SKUS = ["odd.sku-7", "lower-case-9", "SKU.00042"]
RETIRED = "SKU-RETIRED"
ADDRESSES = [
    Address("Ada Lovelace", "12 Analytical St", "", "London", "", "N1 9GU", "GB"),
    Address("Grace Hopper", "1 Cobol Way", "Apt 4", "Arlington", "VA", "22201", "US"),
    Address("Emmy Noether", "Ringstrasse 5", "", "Erlangen", "", "91054", "DE"),
]


def ims_address(address: Address) -> dict[str, Any]:
    return {
        "addressee": address.name,
        "addr1": address.line1,
        "addr2": address.line2,
        "city": address.city,
        "state": address.region,
        "zip": address.postcode,
        "country": address.country,
    }


@dataclass
class PlannedOrder:
    reference: str
    ship_method: str
    address: Address
    lines: list[tuple[str, int]]
    status: str = "B"


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
                address = Address(
                    address.name, address.line1, "", address.city, address.region, "", address.country
                )
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
            chunk = self.planned[start : start + 250]
            body = {
                "orders": [
                    {
                        "tranId": p.reference,
                        "status": p.status,
                        "shipMethod": p.ship_method,
                        "email": f"{p.reference.lower()}@example.com",
                        "shippingAddress": ims_address(p.address),
                        "lines": [{"itemId": sku, "quantity": qty} for sku, qty in p.lines],
                    }
                    for p in chunk
                ]
            }
            response = http.post(f"{ims_url}/_control/sales_orders", json=body)
            response.raise_for_status()
            ids.update({str(k): str(v) for k, v in response.json()["ids"].items()})
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
        warehouse: str,
        hub_held: Callable[[], dict[str, int]],
        amended: Callable[[], int],
    ) -> dict[str, Any]:
        """Compare each order in the Clarus simulator with what the IMS simulator's order says."""
        ims_orders = http.get(f"{ims_url}/_control/sales_orders").json()["orders"]
        ims_items = http.get(f"{ims_url}/_control/state").json()["items"]
        clarus_orders = http.get(f"{clarus_url}/_control/orders").json()["orders"]
        clarus_items = http.get(f"{clarus_url}/_control/items").json()["items"]
        kits = {k: [KitMember(s, q) for s, q in members] for k, members in KITS.items()}
        ctx = OrderContext(
            warehouse_id=warehouse,
            ims_items={sku: ItemInfo(not item["isInactive"], sku in kits) for sku, item in ims_items.items()},
            wms_items={sku: bool(item["active"]) for sku, item in clarus_items.items()},
            kits=kits,
            sku_rules=SkuRules(strip_characters=".", case="upper"),
            ship_methods={**MAPPED, **LATE_MAPPED},
        )
        planned = {p.reference: p for p in self.planned}
        mismatches: list[str] = []
        details: list[dict[str, Any]] = []
        released = cancelled = 0
        for reference, ims in ims_orders.items():
            plan = planned.get(reference)
            if plan is None:
                continue
            in_wms = clarus_orders.get(reference)
            order = SalesOrder(
                str(ims["id"]),
                reference,
                str(ims["status"]),
                plan.ship_method,
                plan.address,
                tuple(
                    OrderLine(
                        int(line["line"]),
                        str(line["itemId"]),
                        round(float(line["quantity"])),
                        round(float(line.get("quantityFulfilled", 0))),
                        bool(line.get("isClosed", False)),
                    )
                    for line in ims["lines"]
                ),
                "",
            )
            if in_wms is not None and in_wms["status"] == "cancelled":
                cancelled += 1
            elif in_wms is not None:
                released += 1
            expected = self._expected(order, ctx, reference)
            if not _matches(expected, in_wms, self.edited_after_pick.get(reference)):
                mismatches.append(reference)
                if len(details) < 5:
                    details.append(
                        {
                            "reference": reference,
                            "ims_status": ims["status"],
                            "expected": None
                            if expected is None
                            else sorted((w.line_ref, w.sku, w.quantity) for w in expected.lines),
                            "in_clarus": None
                            if in_wms is None
                            else {"status": in_wms["status"], "lines": _lines(in_wms)},
                        }
                    )
        cancelled += sum(
            1 for o in ims_orders.values() if o["status"] == "C" and o.get("tranId") not in clarus_orders
        )
        return {
            "total": len(self.planned),
            "released": released,
            "held": hub_held(),
            "amended": amended(),
            "cancelled": cancelled,
            "mismatches": len(mismatches),
            "mismatched_references": mismatches[:20],
            "mismatch_examples": details,
        }

    @staticmethod
    def _expected(order: SalesOrder, ctx: OrderContext, reference: str) -> WmsOrder | None:
        if order.status == "C" or not order.open_lines:
            return None
        result = prepare(order, ctx)
        return result if isinstance(result, WmsOrder) else None


def _matches(expected: WmsOrder | None, in_wms: dict[str, Any] | None, frozen: dict[str, Any] | None) -> bool:
    """Is the warehouse's order what it should be? An order edited after picking keeps what it had."""
    if frozen is not None:
        return in_wms is not None and _lines(in_wms) == _lines(frozen)
    if expected is None:
        return in_wms is None or in_wms["status"] == "cancelled"
    if in_wms is None or in_wms["status"] == "cancelled":
        return False
    wanted = sorted((line.line_ref, line.sku, line.quantity) for line in expected.lines)
    return _lines(in_wms) == wanted and in_wms["ship_method"] == expected.ship_method


def _lines(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((str(line["line_ref"]), str(line["sku"]), int(line["quantity"])) for line in order["lines"])
