"""The demo's simulated world: its options, the hub's configuration for it, the simulators' addresses
the oracle reads from, and the local mail server for the customers' notices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from stockbridge.demo import magento_day, shop_day
from stockbridge.demo.channels import channel_drift
from stockbridge.demo.despatch_day import Mailbox
from stockbridge.demo.magento_day import MAG
from stockbridge.demo.orders_day import MAPPED, SKU_RULES
from stockbridge.demo.shop_day import SHOP
from stockbridge.oracle import Drift, OracleSettings
from stockbridge.servers import free_port

CLARUS_KEY = "demo-clarus-key"
WEBHOOK_SECRET = "demo-webhook-secret"
IMS_TOKEN = "demo-ims-token"
LOCATION = "6"
IMS_CHANNEL = "ims"


@dataclass(frozen=True)
class DemoOptions:
    """The demo's day. The defaults are the short day `make demo` runs (about a minute: every flow and
    every fault, on fewer SKUs and orders); `DemoOptions.long()` is the full day (`--long`)."""

    skus: int = 80
    movements: int = 600
    seed: int = 7
    database_url: str | None = None
    quiet: bool = False
    orders: int = 80
    ims_calls_per_second: float = 50.0
    unknown_fraction: float = 0.02
    inactive_fraction: float = 0.02
    converge_timeout_s: float = 180.0
    shop_orders: int | None = None  # Shopify orders in the order day; default a tenth of `orders`
    report_dir: str = "demo-reports"  # where the daily report is written at the end (it outlives the demo)
    magento_orders: int | None = None  # Magento orders in the order day; default a tenth of `orders`

    @classmethod
    def long(cls, **changes: Any) -> DemoOptions:
        """The full day: 500 SKUs, 5000 movements, 1000 IMS orders and a hundred per store."""
        return replace(
            cls(), skus=500, movements=5000, orders=1000, unknown_fraction=0.01, inactive_fraction=0.01
        ).with_changes(**changes)

    def with_changes(self, **changes: Any) -> DemoOptions:
        """These options with `changes` (a None leaves the option as it is)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def store_orders(self) -> int:
        return self.orders // 10 if self.shop_orders is None else self.shop_orders

    @property
    def magento_store_orders(self) -> int:
        return self.orders // 10 if self.magento_orders is None else self.magento_orders


def demo_config_data(
    clarus_url: str,
    ims_url: str,
    hub_port: int,
    database_url: str,
    ims_calls_per_second: float,
    shop_url: str | None = None,
    magento_url: str | None = None,
) -> dict[str, Any]:
    """The hub's configuration for the demo, as the YAML file it writes (mappings reload from it);
    with `shop_url`, a Shopify store as a second stock channel and a source of orders; with
    `magento_url`, a Magento store as a third, on the same warehouse."""
    data: dict[str, Any] = {
        "database_url": database_url,
        "hub": {"host": "127.0.0.1", "port": hub_port},
        "connectors": {
            "clarus": {"base_url": clarus_url},
            "ims": {"base_url": ims_url, "calls_per_second": ims_calls_per_second, "concurrency": 4},
        },
        "locations": [{"warehouse": "WH1", "ims_location": LOCATION}],
        "inventory_statuses": {
            "available": {"counts_for": ["ims"]},
            "allocated": {"counts_for": ["ims"]},
            "picked": {"counts_for": ["ims"]},
            "quarantine": {"owner": "quality"},
            "damaged": {"owner": "quality"},
            "in_transfer": {},
            "returned": {},
            "expired": {"owner": "quality"},
            "inbound": {},
        },
        "sku_rules": dict(SKU_RULES),
        # The demo runs every job on demand (HubControl.run_job), as an operator would, rather than
        # waiting for its schedule.
        "orders": {
            "ship_methods": dict(MAPPED),
            "poll_s": 3600,
            "product_sync_s": 3600,
            "revalidate_s": 3600,
        },
        "schedules": {
            "full_sync_s": 3600,
            "events_poll_s": 3600,
            "item_refresh_s": 3600,
            "drift_check_s": 3600,
        },
        # Each SKU's sales velocity over the day puts it in a class (decision 0033); the demo counts
        # the SKUs per class. No channel takes the classes' buffers (`velocity_buffers`), so the
        # oracle's figures, which know nothing of velocity, stay the channels' figures.
        "velocity": {
            "window_s": 86400,
            "reclassify_s": 3600,
            "classes": {"fast": {"min_per_day": 12, "buffer": 4}, "medium": {"min_per_day": 4, "buffer": 2}},
        },
    }
    if shop_url is not None:
        data["storefronts"] = {SHOP: shop_day.store_config(shop_url)}
        # A storefront sells only what is free (DESIGN §3), less a buffer: 1 unit, 3 for the fast movers.
        data["targets"] = {
            "ims": {},
            SHOP: {"buffer": 1, "classes": {"fast": {"buffer": 3, "skus": ["SKU-0000*"]}}},
        }
        data["inventory_statuses"]["available"]["counts_for"] = ["ims", SHOP]
        data["orders"]["ship_methods"].update(shop_day.SHOP_MAPPED)
    if magento_url is not None:
        data.setdefault("storefronts", {})[MAG] = magento_day.store_config(magento_url)
        # Its own buffers, other than the Shopify store's: 2 units, none for SKU-00001.
        data.setdefault("targets", {"ims": {}})[MAG] = {"buffer": 2, "sku_buffers": {"SKU-00001": 0}}
        data["inventory_statuses"]["available"]["counts_for"].append(MAG)
        data["orders"]["ship_methods"].update(magento_day.MAG_MAPPED)
    return data


def subscribed(control: httpx.Client, clarus_url: str, hub_url: str) -> bool:
    response = control.get(f"{clarus_url}/api/v1/webhooks", headers={"Authorization": f"Bearer {CLARUS_KEY}"})
    return any(s["url"] == f"{hub_url}/webhooks/clarus" for s in response.json()["data"])


@contextmanager
def mail_server(handler: Mailbox) -> Iterator[int]:
    """A local SMTP server (aiosmtpd) for the customers' shipment notices; yields its port."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


@dataclass
class Sims:
    """The simulators' addresses and the configuration's data: what the oracle reads from."""

    http: httpx.Client
    clarus_url: str
    ims_url: str
    shop_url: str
    data: dict[str, Any]
    magento_url: str = ""

    @property
    def channels(self) -> list[str]:
        return [IMS_CHANNEL, *self.data.get("storefronts", {})]

    def settings(self) -> OracleSettings:
        """The oracle's settings from the configuration's data as it stands now (mappings change)."""
        return OracleSettings.from_config_data(self.data)

    def drift(self, channel: str) -> Drift:
        return channel_drift(self.http, self.clarus_url, self.ims_url, self.settings(), self.data, channel)
