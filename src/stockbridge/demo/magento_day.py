"""The demo's Magento store: the simulator's settings and seed, the store's configuration, its orders
of the day (simples, bundles, a bundle with two of one component, configurables) placed through the
simulator's control API (docs/simulators/magento.md), and the oracle's judgement of what Clarus and
the store should show, from the simulators' own state (`oracle/magento.py`).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from stockbridge.demo.orders_day import LATE_MAPPED
from stockbridge.demo.traffic import sku_name
from stockbridge.oracle import OracleSettings, OrderReport, read_truth
from stockbridge.oracle.magento import check_magento_orders, check_magento_shipments
from stockbridge.simulators.magento import MagentoSettings

MAG = "magento"  # the channel's name: its key under storefronts: and targets:
MAG_TOKEN = "demo-magento-token"
MAG_SOURCE = "default"  # Magento's own single source, fed by WH1
PREFIX = "MAG-"
# The store's shipping descriptions; the late-mapped one (orders_day.LATE_MAPPED) is mapped mid-day.
MAG_MAPPED = {"Flat Rate - Fixed": "STD", "Best Way - Table Rate": "NDAY"}
HOST_CALLS_PER_SECOND = 20.0  # the host in front of the store; the hub is told 40, so it meets 429s
CONFIGURED_CALLS_PER_SECOND = 40.0
SQUEEZED_CALLS_PER_SECOND = 0.5  # while the warehouse moves stock, the host is squeezed for a while
ADDRESSES: list[dict[str, Any]] = [  # Magento shipping addresses
    {"firstname": "Ada", "lastname": "Lovelace", "street": ["12 Analytical St"], "city": "London",
     "postcode": "N1 9GU", "country_id": "GB"},
    {"firstname": "Grace", "lastname": "Hopper", "street": ["1 Cobol Way", "Apt 4"], "city": "Arlington",
     "region_code": "VA", "postcode": "22201", "country_id": "US"},
]  # fmt: skip


def magento_settings(seed: int) -> MagentoSettings:
    """The simulator as the demo runs it: a host rate limit below what the hub is told, and an API
    that fails now and then (some writes apply and then answer 502)."""
    return MagentoSettings(
        tokens=[MAG_TOKEN],
        sources=[MAG_SOURCE],
        calls_per_second=HOST_CALLS_PER_SECOND,
        fail_rate=0.02,
        fail_after_commit_rate=0.01,
        seed=seed,
    )


def store_config(magento_url: str) -> dict[str, Any]:
    """`storefronts.magento` for the demo: orders polled every few seconds, straight to Clarus."""
    return {
        "kind": "magento",
        "base_url": magento_url,
        "access_token_env": "MAGENTO_ACCESS_TOKEN",
        "locations": {"WH1": MAG_SOURCE},
        "orders_route": "clarus",
        "reference_prefix": PREFIX,
        "orders_poll_s": 5,
        "timeout_s": 10,
        "calls_per_second": CONFIGURED_CALLS_PER_SECOND,
        "concurrency": 4,
    }


def seed_store(http: httpx.Client, magento_url: str, skus: list[str]) -> None:
    """The demo's SKUs as source items at the store's source (0 until the hub pushes)."""
    items = [{"sku": sku, "source_code": MAG_SOURCE, "quantity": 0} for sku in skus]
    http.post(f"{magento_url}/_control/source-items", json={"items": items}).raise_for_status()


def squeeze(http: httpx.Client, magento_url: str, on: bool) -> None:
    """The host's rate limit cut to a trickle (or back): the hub's pushes meet 429s with Retry-After
    and wait, as they would behind a busy host."""
    rate = SQUEEZED_CALLS_PER_SECOND if on else HOST_CALLS_PER_SECOND
    http.post(f"{magento_url}/_control/limits", json={"calls_per_second": rate}).raise_for_status()


def magento_calls(http: httpx.Client, magento_url: str) -> dict[str, Any]:
    calls: dict[str, Any] = http.get(f"{magento_url}/_control/calls").json()
    return calls


def magento_orders(
    http: httpx.Client, magento_url: str, *, with_shipments: bool = False
) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = http.get(f"{magento_url}/_control/orders").json()["orders"]
    if with_shipments:
        orders = [http.get(f"{magento_url}/_control/orders/{o['entity_id']}").json() for o in orders]
    return orders


@dataclass
class MagentoDay:
    """A seeded day of Magento orders: simple items, bundles of two or three components (some with two
    of one component), configurables, one with a shipping description nobody has mapped yet."""

    orders: int
    skus: int
    seed: int
    planned: list[dict[str, Any]] = field(default_factory=list)
    placed: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed + 21)
        stock_skus = [sku_name(i) for i in range(1, min(self.skus, 200))]
        for n in range(self.orders):
            items: list[dict[str, Any]] = []
            for _ in range(rng.randint(1, 2)):
                roll = rng.random()
                if roll < 0.35:
                    parts = rng.sample(stock_skus, rng.randint(2, 3))
                    items.append(
                        {
                            "bundle": f"BUNDLE-{n}-{len(items)}",
                            "qty": rng.randint(1, 2),
                            "components": [{"sku": p, "qty": rng.choice((1, 1, 2))} for p in parts],
                        }
                    )
                elif roll < 0.5:
                    items.append({"configurable": f"STYLE-{n}", "sku": rng.choice(stock_skus), "qty": 1})
                else:
                    items.append({"sku": rng.choice(stock_skus), "qty": rng.randint(1, 3)})
            late = n == self.orders // 2
            ship = next(iter(LATE_MAPPED)) if late else rng.choice(list(MAG_MAPPED))
            self.planned.append(
                {"items": items, "shipping_description": ship, "address": rng.choice(ADDRESSES)}
            )

    @property
    def bundle_orders(self) -> list[str]:
        """References of the placed orders that hold a bundle."""
        return [
            PREFIX + str(placed["increment_id"])
            for spec, placed in zip(self.planned, self.placed, strict=True)
            if any("bundle" in item for item in spec["items"])
        ]

    def place(self, http: httpx.Client, magento_url: str) -> None:
        for body in self.planned:
            response = http.post(f"{magento_url}/_control/orders", json=body)
            response.raise_for_status()
            self.placed.append(response.json())

    def check(
        self, http: httpx.Client, magento_url: str, clarus_url: str, ims_url: str, settings: OracleSettings
    ) -> tuple[OrderReport, int]:
        """The oracle's judgement of Clarus against the store's own orders, and how many bundle orders
        are in Clarus as their components (live and as the oracle expects them)."""
        truth = read_truth(http, clarus_url, ims_url)
        orders: list[Mapping[str, Any]] = list(magento_orders(http, magento_url))
        report = check_magento_orders(
            orders, truth.clarus_orders, truth.catalog(settings), settings, prefix=PREFIX
        )
        wrong = set(report.mismatched)
        dekitted = sum(
            1
            for reference in self.bundle_orders
            if reference in truth.clarus_orders
            and truth.clarus_orders[reference]["status"] != "cancelled"
            and reference not in wrong
        )
        return report, dekitted


def check_fulfilments(http: httpx.Client, magento_url: str, clarus_url: str, ims_url: str) -> dict[str, Any]:
    """The store's shipments against Clarus's shipments of its orders, judged by the oracle."""
    truth = read_truth(http, clarus_url, ims_url)
    orders = magento_orders(http, magento_url, with_shipments=True)
    report = check_magento_shipments(orders, truth.clarus_shipments, prefix=PREFIX)
    return {
        "shipments": report.shipments,
        "fulfilments": report.magento_shipments,
        "with_tracking": report.with_tracking,
        "orders_complete": sum(1 for o in orders if o.get("state") == "complete"),
        "problems": report.problems,
        "examples": {
            "lost": report.lost[:5],
            "doubled": report.doubled[:5],
            "unexpected": report.unexpected[:5],
            "wrong": report.wrong[:5],
            "status": report.status[:5],
        },
    }
