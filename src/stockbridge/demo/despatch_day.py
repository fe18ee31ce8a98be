"""The demo's despatches: the warehouse ships the released orders whole or in several parcels, one
order is shipped before the hub has seen it; then the oracle judges shipments, Item Fulfilments and
customer notices from the simulators' and the local mail server's own state.
"""

from __future__ import annotations

import email
import random
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from stockbridge.oracle import OracleSettings, check_fulfilments, read_truth

GHOST = "SO-EARLY-1"


@dataclass
class Mailbox:
    """A local SMTP handler (aiosmtpd) that notes, as each notice arrives, whether the IMS already
    shows the Item Fulfilment for that shipment."""

    ims_url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content)
        shipment = str(message["Message-ID"]).removeprefix("<shipment-").removesuffix("@stockbridge>")
        async with httpx.AsyncClient() as client:
            fulfilments = (await client.get(f"{self.ims_url}/_control/fulfilments")).json()["fulfilments"]
        existed = any(f["externalId"] == f"sb-if-{shipment}" for f in fulfilments)
        self.received.append({"shipment": shipment, "if_existed": existed})
        return "250 OK"


def despatch_orders(
    http: httpx.Client, clarus_url: str, seed: int, only: Collection[str] | None = None
) -> Counter[str]:
    """Ship what the warehouse holds (or only the orders named): 60% whole, 30% in two or three
    parcels, the rest not yet."""
    rng = random.Random(seed + 2)
    done: Counter[str] = Counter()
    orders = http.get(f"{clarus_url}/_control/orders").json()["orders"]
    for reference, order in sorted(orders.items()):
        if only is not None and reference not in only:
            continue
        if order["status"] in ("cancelled", "despatched", "received", "on_hold"):
            if order["status"] == "received":
                http.post(f"{clarus_url}/_control/orders/{reference}/advance", json={"status": "released"})
            else:
                continue
        roll = rng.random()
        if roll >= 0.9:
            continue
        groups = _parcels(order["lines"], 1 if roll < 0.6 else rng.randint(2, 3), rng)
        for number, lines in enumerate(groups, start=1):
            body = {"shipment_id": f"SHP-{reference}-{number}", "carrier": "UPS", "lines": lines}
            http.post(f"{clarus_url}/_control/orders/{reference}/despatch", json=body).raise_for_status()
            done["shipments"] += 1
        done["orders_shipped"] += 1
    return done


def _parcels(lines: list[dict[str, Any]], count: int, rng: random.Random) -> list[list[dict[str, Any]]]:
    """Whole order lines per parcel, a bundle's components together, so every parcel fulfils a line."""
    by_parent: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_parent.setdefault(str(line["line_ref"]).split(".")[0], []).append(line)
    groups: list[list[dict[str, Any]]] = [[] for _ in range(min(count, len(by_parent)))]
    for index, members in enumerate(by_parent.values()):
        groups[index % len(groups)].extend(
            {"line_ref": m["line_ref"], "quantity": m["quantity"] - m.get("quantity_despatched", 0)}
            for m in members
        )
    rng.shuffle(groups)
    return [g for g in groups if g]


def ship_before_the_order(
    http: httpx.Client, clarus_url: str, ims_url: str, api_key: str
) -> tuple[dict[str, Any], datetime]:
    """An order the warehouse got by another path is despatched before the IMS order exists: the
    IMS order to create afterwards, and when the shipment left."""
    ship_to = {
        "name": "Ada Lovelace",
        "line1": "12 Analytical St",
        "city": "London",
        "postcode": "N1 9GU",
        "country": "GB",
    }
    http.post(
        f"{clarus_url}/api/v1/orders",
        headers={"Authorization": f"Bearer {api_key}"},
        json={
            "reference": GHOST,
            "warehouse_id": "WH1",
            "ship_method": "STD",
            "ship_to": ship_to,
            "lines": [{"line_ref": "1", "sku": "SKU-00005", "quantity": 1}],
        },
    ).raise_for_status()
    http.post(f"{clarus_url}/_control/orders/{GHOST}/advance", json={"status": "released"}).raise_for_status()
    shipment = http.post(
        f"{clarus_url}/_control/orders/{GHOST}/despatch", json={"shipment_id": "SHP-EARLY-1"}
    )
    shipment.raise_for_status()
    address = {
        "addressee": "Ada Lovelace",
        "addr1": "12 Analytical St",
        "city": "London",
        "zip": "N1 9GU",
        "country": "GB",
    }
    order = {
        "tranId": GHOST,
        "status": "B",
        "shipMethod": "UPS Ground",
        "email": "ada@example.com",
        "shippingAddress": address,
        "lines": [{"itemId": "SKU-00005", "quantity": 1}],
    }
    return order, datetime.fromisoformat(shipment.json()["despatched_at"])


def count(
    http: httpx.Client,
    clarus_url: str,
    ims_url: str,
    settings: OracleSettings,
    mailbox: Mailbox,
    released_from_parking: int,
    skip: str | tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The oracle's judgement of the simulators' shipments, Item Fulfilments and the mail received;
    `released_from_parking` is the hub's own bookkeeping. Shipments whose reference starts with
    `skip` (the storefronts' prefixes: their orders sent straight to Clarus) have no IMS order and
    are judged apart."""
    truth = read_truth(http, clarus_url, ims_url)
    shipments = {
        sid: s
        for sid, s in truth.clarus_shipments.items()
        if skip is None or not str(s["reference"]).startswith(skip)
    }
    report = check_fulfilments(
        shipments,
        truth.ims_orders,
        truth.ims_fulfilments,
        truth.catalog(settings),
        mailbox.received,
    )
    statuses = Counter(order["status"] for order in truth.ims_orders.values())
    return {
        "shipments": report.shipments,
        "item_fulfilments": report.item_fulfilments,
        "notifications": report.notices,
        "shipped_before_order": len(report.shipped_before_order),
        "released_from_parking": released_from_parking,
        "missing": len(report.lost),
        "doubled": len(report.doubled),
        "unexpected": len(report.unexpected),
        "wrong_quantities": len(report.wrong),
        "for_closed_orders": len(report.order_closed),
        "early_notifications": report.notices_early,
        "notices_missing_or_doubled": len(report.notices_missing) + report.notices_doubled,
        "problems": report.problems,
        "examples": {
            "lost": report.lost[:5],
            "doubled": report.doubled[:5],
            "wrong": report.wrong[:5],
            "notices_missing": report.notices_missing[:5],
        },
        "orders_complete": statuses["F"] + statuses["G"],
        "orders_partial": statuses["D"] + statuses["E"],
    }
