"""The hub against the simulators over real HTTP on loopback: a small test harness.

The simulators (Clarus, the IMS and, with `stack(..., shopify=True)`, a Shopify store configured as
the storefront channel `shopify`; with `magento=True`, a Magento store as the channel `magento`) run
on threads; the hub runs on its own thread and event loop
(`HubThread`) or, for crash tests, as a real `stockbridge serve` process that can be killed with
SIGKILL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, func, select

from stockbridge.config import Config, parse_config
from stockbridge.connectors.clarus.wire import FEED_EVENTS
from stockbridge.demo import HubControl, HubThread, measure_drift
from stockbridge.demo.harness import healthy, issue_token, oracle_settings
from stockbridge.engine.clock import Clock
from stockbridge.oracle import (
    Drift,
    FulfilmentReport,
    OrderReport,
    Truth,
    adjustments_off_target,
    check_fulfilments,
    check_orders,
    ims_drift,
    magento_drift,
    read_source_items,
    read_storefront,
    read_truth,
    storefront_drift,
)
from stockbridge.oracle.read import suiteql
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.simulators import ims as ims_sim
from stockbridge.simulators import magento as magento_sim
from stockbridge.simulators import shopify as shopify_sim
from stockbridge.store.schema import inbox

CLARUS_KEY = "test-clarus-key"
WEBHOOK_SECRET = "test-webhook-secret"
IMS_TOKEN = "test-ims-token"
SHOPIFY_TOKEN = "shpat_test"
SHOPIFY_SECRET = "shopify-secret"
SHOPIFY_LOCATION = "gid://shopify/Location/1"  # the simulator's first location, fed by WH1
MAGENTO_TOKEN = "magento-integration-token"
MAGENTO_SOURCE = "default"  # Magento's own single source, fed by WH1
ENVIRON = {
    "MAGENTO_ACCESS_TOKEN": MAGENTO_TOKEN,
    "CLARUS_API_KEY": CLARUS_KEY,
    "CLARUS_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "IMS_TOKEN": IMS_TOKEN,
    "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
    "SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
}
# The storefront's buffers: 1 by default, 2 for the SKU-0001x class, none for SKU-00000.
SHOPIFY_TARGET: dict[str, Any] = {
    "buffer": 1,
    "classes": {"fast": {"buffer": 2, "skus": ["SKU-0001?"]}},
    "sku_buffers": {"SKU-00000": 0},
}


# The Magento store's buffers: 2 by default, 0 for SKU-00001 (other figures than Shopify's, so a
# figure meant for one channel cannot pass for the other's).
MAGENTO_TARGET: dict[str, Any] = {"buffer": 2, "sku_buffers": {"SKU-00001": 0}}


class SteppedClock:
    """The system clock, moved on by hand: real time passes (a slow call takes as long as it does)
    and `advance` jumps ahead (an hour without waiting one). `Stack.advance` keeps Clarus in step."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll a condition until it holds or the deadline passes (never a bare sleep)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


def storefront_config_data(data: dict[str, Any], shopify_url: str, **store: Any) -> dict[str, Any]:
    """`data` with the Shopify store as the storefront channel `shopify`: it counts only `available`
    (the IMS keeps available, allocated and picked), with its own buffers (SHOPIFY_TARGET)."""
    data["storefronts"] = {
        "shopify": {
            "kind": "shopify",
            "shop_domain": "stockbridge-test.myshopify.com",
            "base_url": shopify_url,
            "api_version": "2026-04",
            "access_token_env": "SHOPIFY_ACCESS_TOKEN",
            "webhook_secret_env": "SHOPIFY_WEBHOOK_SECRET",
            "locations": {"WH1": SHOPIFY_LOCATION},
            "orders_route": "clarus",
            "timeout_s": 4,
            **store,
        }
    }
    data["inventory_statuses"]["available"] = {"counts_for": ["ims", "shopify"]}
    data.setdefault("targets", {"ims": {"buffer": 0}})["shopify"] = SHOPIFY_TARGET
    return data


def magento_config_data(data: dict[str, Any], magento_url: str, **store: Any) -> dict[str, Any]:
    """`data` with the Magento store as the storefront channel `magento` (orders polled, straight to
    Clarus unless `orders_route` says otherwise): it counts only `available`, with MAGENTO_TARGET."""
    data.setdefault("storefronts", {})["magento"] = {
        "kind": "magento",
        "base_url": magento_url,
        "access_token_env": "MAGENTO_ACCESS_TOKEN",
        "locations": {"WH1": MAGENTO_SOURCE},
        "orders_route": "clarus",
        "reference_prefix": "MAG-",
        "ims_customer": "501",  # the IMS simulator's web customer (route ims)
        "orders_poll_s": 3600,  # tests run the poll when they want it, unless they say otherwise
        "calls_per_second": 50,
        "timeout_s": 4,
        **store,
    }
    counts = data["inventory_statuses"]["available"].setdefault("counts_for", [])
    data["inventory_statuses"]["available"]["counts_for"] = [*counts, "magento"]
    data.setdefault("targets", {"ims": {"buffer": 0}})["magento"] = MAGENTO_TARGET
    return data


def hub_config_data(
    clarus_url: str, ims_url: str, port: int, database_url: str, **engine: Any
) -> dict[str, Any]:
    return {
        "database_url": database_url,
        "hub": {"host": "127.0.0.1", "port": port},
        "connectors": {
            # Calls end before their lease (engine.lease_s below) does.
            "clarus": {"base_url": clarus_url, "snapshot_page_size": 50, "timeout_s": 4},
            "ims": {
                "base_url": ims_url,
                "calls_per_second": 50,
                "concurrency": 4,
                "max_lines_per_call": 25,
                "timeout_s": 4,
            },
        },
        "locations": [{"warehouse": "WH1", "ims_location": "6"}],
        "inventory_statuses": {
            "available": {"counts_for": ["ims"]},
            "allocated": {"counts_for": ["ims"]},
            "picked": {"counts_for": ["ims"]},
            "quarantine": {"owner": "quality"},
            "damaged": {"owner": "quality"},
            "in_transfer": {},
            "returned": {},
            "expired": {},
            "inbound": {},
        },
        "schedules": {
            "full_sync_s": 3600,
            "events_poll_s": 3600,
            "item_refresh_s": 3600,
            "drift_check_s": 3600,
        },
        "sku_rules": {"strip_characters": ".", "case": "upper"},
        "orders": {
            "ship_methods": {"UPS Ground": "STD", "UPS Next Day Air": "NDAY"},
            "poll_s": 3600,
            "product_sync_s": 3600,
            "revalidate_s": 3600,
        },
        # Every far call ends before its lease (engine.lease_s below), alerts' included.
        "alerts": {"webhook_timeout_s": 4, "smtp": {"timeout_s": 4}},
        "engine": {
            "backoff_base_s": 0.05,
            "backoff_cap_s": 1.0,
            "max_attempts": 50,
            "lease_s": 5,
            "push_delay_s": 0.1,
            **engine,
        },
    }


@dataclass
class Stack:
    clarus_url: str
    ims_url: str
    database_url: str
    workdir: Path
    hub_port: int = field(default_factory=free_port)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    engine_settings: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    admin_token: str | None = None  # created in the hub's database on first use
    shopify_url: str | None = None  # the Shopify simulator, configured as storefront `shopify`
    store_settings: dict[str, Any] = field(default_factory=dict)  # storefronts.shopify overrides
    magento_url: str | None = None  # the Magento simulator, configured as storefront `magento`
    magento_settings: dict[str, Any] = field(default_factory=dict)  # storefronts.magento overrides

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def config(self) -> Config:
        return parse_config(self._config_data())

    def _config_data(self) -> dict[str, Any]:
        data = hub_config_data(
            self.clarus_url, self.ims_url, self.hub_port, self.database_url, **self.engine_settings
        )
        if self.shopify_url is not None:
            data = storefront_config_data(data, self.shopify_url, **self.store_settings)
        if self.magento_url is not None:
            data = magento_config_data(data, self.magento_url, **self.magento_settings)
        for key, value in self.overrides.items():  # "section.key": value
            section, _, name = key.partition(".")
            data.setdefault(section, {})[name] = value
        return data

    # --- the simulators ---------------------------------------------------------------------------
    def create_items(self, skus: list[str], inactive: frozenset[str] = frozenset()) -> None:
        items = [{"itemId": s, "isInactive": s in inactive} for s in skus]
        self.http.post(f"{self.ims_url}/_control/items", json={"items": items}).raise_for_status()

    def activate(self, sku: str) -> None:
        self.http.patch(f"{self.ims_url}/_control/items/{sku}", json={"isInactive": False}).raise_for_status()

    def subscriptions(self) -> list[dict[str, Any]]:
        """Clarus's webhook subscriptions at this hub's URL."""
        response = self.http.get(
            f"{self.clarus_url}/api/v1/webhooks", headers={"Authorization": f"Bearer {CLARUS_KEY}"}
        )
        response.raise_for_status()
        hook = f"{self.hub_url}/webhooks/clarus"
        return [s for s in response.json()["data"] if s["url"] == hook]

    def subscribe(self) -> None:
        """Webhooks flow from here on. A running hub registers its own subscription: wait for it. A
        hub not started yet adopts the one made here (same URL and secret, every event type)."""
        if healthy(self.hub_url):
            wait_until(lambda: bool(self.subscriptions()), 30, "the hub to register its subscription")
            return
        self.http.post(
            f"{self.clarus_url}/api/v1/webhooks",
            headers={"Authorization": f"Bearer {CLARUS_KEY}"},
            json={
                "url": f"{self.hub_url}/webhooks/clarus",
                "secret": WEBHOOK_SECRET,
                "events": sorted(FEED_EVENTS),
            },
        ).raise_for_status()

    def faults(self, **faults: Any) -> None:
        self.http.put(f"{self.clarus_url}/_control/faults", json=faults).raise_for_status()

    def advance(self, clock: SteppedClock, seconds: float) -> None:
        """Move the hub's clock on, and the warehouse's with it (its event times and webhook stamps)."""
        clock.advance(seconds)
        body = {"offset_s": clock.offset_s}
        self.http.put(f"{self.clarus_url}/_control/clock", json=body).raise_for_status()

    def ims_faults(self, **faults: Any) -> None:
        self.http.put(f"{self.ims_url}/_control/faults", json=faults).raise_for_status()

    def ims_limits(self, **limits: Any) -> None:
        self.http.put(f"{self.ims_url}/_control/limits", json=limits).raise_for_status()

    def move(self, movements: list[dict[str, Any]]) -> None:
        for start in range(0, len(movements), 250):
            response = self.http.post(
                f"{self.clarus_url}/_control/movements", json={"movements": movements[start : start + 250]}
            )
            response.raise_for_status()
            assert not response.json().get("rejected"), response.json()["rejected"]

    def drain(self) -> dict[str, Any]:
        result: dict[str, Any] = self.http.post(
            f"{self.clarus_url}/_control/drain", params={"timeout": 60}
        ).json()
        return result

    def ims_items(self) -> dict[str, Any]:
        items: dict[str, Any] = self.http.get(f"{self.ims_url}/_control/state").json()["items"]
        return items

    def on_hand(self, sku: str) -> int:
        return round(float(self.ims_items().get(sku, {}).get("onHand", {}).get("6", 0)))

    def ims_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.http.get(f"{self.ims_url}/_control/stats").json()
        return stats

    def suiteql(self, query: str, every_page: bool = False) -> list[dict[str, Any]]:
        # Read under the same account limits the hub is held to (a test may set 4 calls/s).
        return suiteql(self.http, self.ims_url, IMS_TOKEN, query, every_page=every_page, patience_s=30)

    def stored_movements(self) -> int:
        """Movement events in the hub's inbox (one row per event id: duplicates are not stored)."""
        engine = create_engine(self.database_url)
        with engine.connect() as c:
            count = c.execute(
                select(func.count()).select_from(inbox).where(inbox.c.kind == "inventory.movement")
            ).scalar_one()
        engine.dispose()
        return int(count)

    def duplicate_adjustment_lines(self) -> list[dict[str, Any]]:
        """Adjustment lines with the same item and memo (figure and version). Not proof of a double
        push: events folded out of order can rightly set the same figure and version twice; judge
        with `adjustments_off_target`."""
        return self.suiteql(
            "SELECT item, memo, COUNT(*) AS n FROM transactionline GROUP BY item, memo HAVING COUNT(*) > 1"
        )

    def adjustments_off_target(self) -> list[dict[str, Any]]:
        """Adjustment lines that did not take the IMS to the figure they set: one applied twice, or
        one lost, the oracle's way (`stockbridge.oracle.adjustments_off_target`)."""
        query = (
            'SELECT tl."transaction" AS txn, tl.id AS line, tl.item, tl.location, tl.quantity, tl.memo '
            'FROM transactionline tl JOIN "transaction" t ON t.id = tl."transaction" '
            "WHERE t.type = 'InvAdjst' ORDER BY tl.\"transaction\", tl.id"
        )
        return adjustments_off_target(self.suiteql(query, every_page=True))

    # --- the Shopify store (docs/simulators/shopify.md) ---------------------------------------------
    @property
    def store_url(self) -> str:
        assert self.shopify_url is not None, "start the stack with shopify=True"
        return self.shopify_url

    def _shopify(self, path: str) -> str:
        return f"{self.store_url}/_control{path}"

    def shopify_products(self, skus: list[str], available: int = 0) -> None:
        """A product per 100 SKUs, one variant each, stocked at the fed location with `available`."""
        for start in range(0, len(skus), 100):
            part = skus[start : start + 100]
            variants = [{"sku": s, "inventory": {SHOPIFY_LOCATION: available}} for s in part]
            body = {"title": f"Products {start}", "variants": variants}
            self.http.post(self._shopify("/products"), json=body).raise_for_status()

    def shopify_levels(self) -> dict[str, dict[str, Any]]:
        """SKU → its level at the fed location."""
        levels = read_storefront(self.http, self.store_url)["levels"]
        return {lv["sku"]: lv for lv in levels if lv["location_id"] == SHOPIFY_LOCATION}

    def shopify_available(self, sku: str) -> int | None:
        level = self.shopify_levels().get(sku)
        return None if level is None else int(level["available"])

    def shopify_set(self, sku: str, available: int) -> None:
        """A person changes the level by hand in the Shopify admin."""
        body = {"sku": sku, "location_id": SHOPIFY_LOCATION, "available": available}
        self.http.post(self._shopify("/inventory"), json=body).raise_for_status()

    def shopify_limits(self, **limits: Any) -> None:
        self.http.post(self._shopify("/limits"), json=limits).raise_for_status()

    def shopify_api_faults(self, **api: Any) -> None:
        """Faults of the store's GraphQL endpoint: latency_ms, outage, fail_rate, ..."""
        self.http.post(self._shopify("/faults"), json={"api": api}).raise_for_status()

    def shopify_calls(self) -> dict[str, Any]:
        calls: dict[str, Any] = self.http.get(self._shopify("/calls")).json()
        return calls

    def shopify_mutations(self) -> list[dict[str, Any]]:
        mutations: list[dict[str, Any]] = self.http.get(self._shopify("/mutations")).json()["mutations"]
        return mutations

    def shopify_drift(self) -> Drift:
        """The storefront's drift, judged by the oracle from the two simulators' state."""
        clarus_state = self.http.get(f"{self.clarus_url}/_control/state").json()
        inventory = read_storefront(self.http, self.store_url)
        return storefront_drift(clarus_state, inventory, oracle_settings(self.config), "shopify")

    # --- the Magento store (docs/simulators/magento.md) ---------------------------------------------
    def _magento(self, path: str) -> str:
        assert self.magento_url is not None, "start the stack with magento=True"
        return f"{self.magento_url}/_control{path}"

    def magento_place(
        self, items: list[dict[str, Any]], ship: str = "Flat Rate - Fixed", **extra: Any
    ) -> dict[str, Any]:
        """Place an order in the store: items `{"sku", "qty"}`, `{"bundle", "qty", "components"}` or
        `{"configurable", "sku", "qty"}`; `ship` is its shipping_description."""
        body = {"items": items, "shipping_description": ship, **extra}
        response = self.http.post(self._magento("/orders"), json=body)
        response.raise_for_status()
        order: dict[str, Any] = response.json()
        return order

    def magento_orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.http.get(self._magento("/orders")).json()["orders"]
        return orders

    def magento_order(self, entity_id: int) -> dict[str, Any]:
        """One order as the API shows it, with its `shipments`."""
        order: dict[str, Any] = self.http.get(self._magento(f"/orders/{entity_id}")).json()
        return order

    def magento_stock(self, skus: list[str], quantity: int = 0) -> None:
        """Source items for these SKUs at the fed source (the merchant's catalogue in MSI)."""
        items = [{"sku": s, "source_code": MAGENTO_SOURCE, "quantity": quantity} for s in skus]
        self.http.post(self._magento("/source-items"), json={"items": items}).raise_for_status()

    def magento_source_items(self) -> dict[str, Any]:
        assert self.magento_url is not None, "start the stack with magento=True"
        return read_source_items(self.http, self.magento_url)

    def magento_quantity(self, sku: str) -> int | None:
        rows = self.magento_source_items()["items"]
        found = [r for r in rows if r["sku"] == sku and r["source_code"] == MAGENTO_SOURCE]
        return round(float(found[0]["quantity"])) if found else None

    def magento_limits(self, **limits: Any) -> None:
        self.http.post(self._magento("/limits"), json=limits).raise_for_status()

    def magento_faults(self, **faults: Any) -> None:
        self.http.post(self._magento("/faults"), json=faults).raise_for_status()

    def magento_calls(self) -> dict[str, Any]:
        calls: dict[str, Any] = self.http.get(self._magento("/calls")).json()
        return calls

    def magento_drift(self) -> Drift:
        """The Magento channel's drift, judged by the oracle from the simulators' state (the units
        Clarus's own unallocated orders claim taken off, as the storefront default says)."""
        clarus_state = self.http.get(f"{self.clarus_url}/_control/state").json()
        return magento_drift(
            clarus_state,
            self.magento_source_items(),
            oracle_settings(self.config),
            "magento",
            clarus_orders=self.clarus_orders(),
        )

    # --- the hub ----------------------------------------------------------------------------------
    @property
    def hub_control(self) -> HubControl:
        if self.admin_token is None:
            self.admin_token = issue_token(self.config.effective_database_url(), "e2e")
        return HubControl(self.http, self.hub_url, self.admin_token)

    def health(self) -> dict[str, Any]:
        return self.hub_control.health()

    def run_job(self, job: str, wait: bool = False) -> None:
        """Ask the hub to run a job now; with `wait`, return once it has run."""
        self.hub_control.run_job(job, timeout_s=30, wait=wait)

    def orders_settled(self) -> bool:
        return self.hub_control.orders_settled()

    def clarus_orders(self) -> dict[str, Any]:
        orders: dict[str, Any] = self.http.get(f"{self.clarus_url}/_control/orders").json()["orders"]
        return orders

    def clarus_items(self) -> dict[str, Any]:
        items: dict[str, Any] = self.http.get(f"{self.clarus_url}/_control/items").json()["items"]
        return items

    def hub_idle(self) -> bool:
        try:
            h = self.health()
        except httpx.HTTPError:
            return False
        return h["inbox_pending"] == 0 and h["dirty_targets"] == 0 and not h["batches"].get("pending")

    def clarus_sequence(self) -> int:
        state = self.http.get(f"{self.clarus_url}/_control/state").json()
        return int(state["warehouses"]["WH1"]["sequence"])

    def drift(self) -> int:
        return measure_drift(self.clarus_url, self.ims_url, self.config)[0]

    # --- the oracle: what is right, from the simulators' own state -----------------------------------
    def truth(self) -> Truth:
        return read_truth(self.http, self.clarus_url, self.ims_url)

    def ims_drift(self) -> Drift:
        truth = self.truth()
        return ims_drift(truth.clarus_state, truth.ims_state, oracle_settings(self.config))

    def order_report(self, frozen: dict[str, Any] | None = None) -> OrderReport:
        """Every IMS order against Clarus; `frozen`: Clarus orders as they were when picking began."""
        truth, settings = self.truth(), oracle_settings(self.config)
        return check_orders(truth.ims_orders, truth.clarus_orders, truth.catalog(settings), settings, frozen)

    def fulfilment_report(self, notices: list[dict[str, Any]] | None = None) -> FulfilmentReport:
        truth = self.truth()
        catalog = truth.catalog(oracle_settings(self.config))
        return check_fulfilments(
            truth.clarus_shipments, truth.ims_orders, truth.ims_fulfilments, catalog, notices
        )

    def wait_converged(self, timeout_s: float = 60) -> None:
        """Until the hub is idle and every channel (the IMS, and the store when there is one) shows
        what the oracle says it should."""

        def converged() -> bool:
            if not (self.hub_idle() and self.drift() == 0):
                return False
            if self.magento_url is not None and self.magento_drift():
                return False
            return self.shopify_url is None or not self.shopify_drift()

        wait_until(converged, timeout_s, "every channel to match the warehouse")

    @contextlib.contextmanager
    def hub(self, clock: Clock | None = None) -> Iterator[HubThread]:
        """The hub on its own thread; on `clock` (default the system's) if given."""
        hub = HubThread(self.config, ENVIRON, self.write_config(), clock=clock)
        hub.start()
        try:
            wait_until(lambda: healthy(self.hub_url), 30, "the hub to start")
            yield hub
        finally:
            hub.stop()

    def write_config(self) -> Path:
        path = self.workdir / "stockbridge.yaml"
        path.write_text(yaml.safe_dump(self._config_data()))
        return path

    @contextlib.contextmanager
    def hub_process(self, *args: str) -> Iterator[subprocess.Popen[bytes]]:
        """`stockbridge serve` (or `worker`, per `args`) as a real process, killed hard on exit."""
        command = [
            sys.executable,
            "-m",
            "stockbridge.cli",
            *(args or ("serve",)),
            "--config",
            str(self.write_config()),
        ]
        # Its log lines go to a file beside the config (and are printed if the test fails there).
        log_path = self.workdir / f"hub-{len(list(self.workdir.glob('hub-*.log')))}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(command, env={**os.environ, **ENVIRON}, stderr=log_file)
        try:
            if not args or args[0] == "serve":
                wait_until(lambda: healthy(self.hub_url) or proc.poll() is not None, 60, "hub process")
            else:  # a worker has no API: its first log line says its loops are starting
                wait_until(
                    lambda: b"hub starting" in log_path.read_bytes() or proc.poll() is not None,
                    60,
                    "worker process",
                )
            assert proc.poll() is None, f"the hub process exited at start: {log_path.read_text()[-2000:]}"
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def stack(
    database_url: str,
    workdir: Path,
    seed: int = 1,
    *,
    shopify: bool = False,
    magento: bool = False,
    **ims: Any,
) -> Iterator[Stack]:
    # Clarus keeps retrying a delivery for about a minute, so a hub restarted within that loses nothing.
    clarus_settings = clarus_sim.ClarusSettings(
        api_key=CLARUS_KEY, seed=seed, retry_base_s=0.05, retry_max_s=0.5, max_attempts=150
    )
    clarus_app = clarus_sim.create_app(clarus_settings)
    ims_app = ims_sim.create_app(ims_sim.ImsSettings(bearer_tokens=[IMS_TOKEN], seed=seed, **ims))
    with contextlib.ExitStack() as servers:
        clarus_url = servers.enter_context(serve_in_thread(clarus_app))
        ims_url = servers.enter_context(serve_in_thread(ims_app))
        env = Stack(clarus_url, ims_url, database_url, workdir)
        if shopify:
            shopify_app = shopify_sim.create_app(
                shopify_sim.ShopifySettings(access_token=SHOPIFY_TOKEN, api_secret=SHOPIFY_SECRET)
            )
            env.shopify_url = servers.enter_context(serve_in_thread(shopify_app))
        if magento:
            magento_app = magento_sim.create_app(
                magento_sim.MagentoSettings(tokens=[MAGENTO_TOKEN], sources=[MAGENTO_SOURCE], seed=seed)
            )
            env.magento_url = servers.enter_context(serve_in_thread(magento_app))
        yield env
