"""`stockbridge demo`: simulated Clarus, IMS, a Shopify store and a Magento store on loopback, the hub
against them, a day of movements, orders from the IMS and both stores, and despatches.

The verdict (drift, orders, fulfilments, notices) is the oracle's (`stockbridge.oracle`): computed from
the simulators' own state with none of the hub's rules. The summary table says, row by row, which
figures the oracle checked, which a simulator counted, and which are the hub's own bookkeeping.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from stockbridge.config import Config, parse_config
from stockbridge.demo import magento_day, shop_day
from stockbridge.demo.channels import (
    DEMO,
    HUB,
    ORACLE,
    SIMULATOR,
    channel_drift,
    channel_rows,
    channel_summary,
    held_by_channel,
    hub_figures,
)
from stockbridge.demo.despatch_day import Mailbox, count, despatch_orders, ship_before_the_order
from stockbridge.demo.harness import (
    HubThread,
    issue_token,
    measure_drift,
    oracle_settings,
    running_hub,
    wait_for,
)
from stockbridge.demo.magento_day import MAG, MagentoDay
from stockbridge.demo.orders_day import LATE_MAPPED, MAPPED, SKU_RULES, OrderDay
from stockbridge.demo.shop_day import SHOP, ShopDay
from stockbridge.demo.traffic import Movement, Traffic, sku_name
from stockbridge.domain.order_state import OrderState
from stockbridge.monitor.latency import summary as latency_summary
from stockbridge.oracle import Drift, OracleSettings
from stockbridge.reports import write_daily
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.simulators import ims as ims_sim
from stockbridge.simulators import magento as magento_sim
from stockbridge.simulators import shopify as shopify_sim
from stockbridge.store import orders_repo
from stockbridge.store.bookkeeping import count_open_exceptions, latencies_ms, read_counters
from stockbridge.store.db import make_engine

CLARUS_KEY = "demo-clarus-key"
WEBHOOK_SECRET = "demo-webhook-secret"
IMS_TOKEN = "demo-ims-token"
LOCATION = "6"
SEND_CHUNK = 250

__all__ = [
    "DemoOptions",
    "HubControl",
    "HubThread",
    "mail_server",
    "measure_drift",
    "run_demo",
    "write_demo_report",
]


@dataclass(frozen=True)
class DemoOptions:
    skus: int = 500
    movements: int = 5000
    seed: int = 7
    database_url: str | None = None
    quiet: bool = False
    orders: int = 1000
    ims_calls_per_second: float = 50.0
    unknown_fraction: float = 0.01
    inactive_fraction: float = 0.01
    converge_timeout_s: float = 180.0
    shop_orders: int | None = None  # Shopify orders in the order day; default a tenth of `orders`
    report_dir: str = "demo-reports"  # where the daily report is written at the end (it outlives the demo)
    magento_orders: int | None = None  # Magento orders in the order day; default a tenth of `orders`

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


def run_demo(options: DemoOptions) -> dict[str, Any]:
    console = Console(stderr=True, quiet=options.quiet)
    with tempfile.TemporaryDirectory(prefix="stockbridge-demo-") as tmp:
        database_url = options.database_url or f"sqlite:///{Path(tmp) / 'stockbridge.db'}"
        return _run(options, database_url, Path(tmp), console)


def _run(options: DemoOptions, database_url: str, workdir: Path, console: Console) -> dict[str, Any]:
    started = time.monotonic()
    traffic = Traffic(options.skus, options.seed)
    skus = [sku_name(i) for i in range(options.skus)]
    unknown = set(skus[:: max(1, round(1 / options.unknown_fraction))]) if options.unknown_fraction else set()
    inactive = (
        set(skus[1 :: max(1, round(1 / options.inactive_fraction))]) - unknown
        if options.inactive_fraction
        else set()
    )
    day = OrderDay(options.orders, options.skus, options.seed)
    shop = ShopDay(options.store_orders, options.skus, options.seed)
    magento = MagentoDay(options.magento_store_orders, options.skus, options.seed)
    mailbox = Mailbox()
    clarus_app = clarus_sim.create_app(clarus_sim.ClarusSettings(api_key=CLARUS_KEY, seed=options.seed))
    ims_app = ims_sim.create_app(ims_sim.ImsSettings(bearer_tokens=[IMS_TOKEN], seed=options.seed))
    shop_app = shopify_sim.create_app(shop_day.shop_settings(options.seed))
    magento_app = magento_sim.create_app(magento_day.magento_settings(options.seed))
    with (
        mail_server(mailbox) as smtp_port,
        serve_in_thread(clarus_app) as clarus_url,
        serve_in_thread(ims_app) as ims_url,
        serve_in_thread(shop_app) as shop_url,
        serve_in_thread(magento_app) as magento_url,
    ):
        control = httpx.Client(timeout=120)
        control.post(
            f"{ims_url}/_control/items",
            json={"items": [{"itemId": s, "isInactive": s in inactive} for s in skus if s not in unknown]},
        ).raise_for_status()
        mailbox.ims_url = ims_url
        data = demo_config_data(
            clarus_url,
            ims_url,
            free_port(),
            database_url,
            options.ims_calls_per_second,
            shop_url,
            magento_url,
        )
        data["fulfilment"] = {
            "bill_on_fulfilment": True,
            "notifier": {"kind": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp_port},
        }
        config_path = workdir / "stockbridge.yaml"
        config_path.write_text(yaml.safe_dump(data))
        config = parse_config(data, str(config_path))
        shop_day.seed_store(control, shop_url, f"http://127.0.0.1:{config.hub.port}", skus)
        magento_day.seed_store(control, magento_url, skus)
        environ = {
            "CLARUS_API_KEY": CLARUS_KEY,
            "CLARUS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "IMS_TOKEN": IMS_TOKEN,
            "SHOPIFY_ACCESS_TOKEN": shop_day.SHOP_TOKEN,
            "SHOPIFY_WEBHOOK_SECRET": shop_day.SHOP_SECRET,
            "MAGENTO_ACCESS_TOKEN": magento_day.MAG_TOKEN,
        }
        sims = Sims(control, clarus_url, ims_url, shop_url, data, magento_url)
        with running_hub(config, environ, config_path) as hub_url:
            hub = HubControl(control, hub_url, issue_token(config.effective_database_url(), "demo"))
            # The hub subscribes itself to Clarus's webhooks when it starts (flows/subscriptions.py).
            wait_for(lambda: subscribed(control, clarus_url, hub_url), 30, "the hub's webhook subscription")
            control.put(
                f"{clarus_url}/_control/faults",
                json={
                    "duplicate_rate": 0.05,
                    "reorder_rate": 0.05,
                    "failure_rate": 0.02,
                    "drop_rate": 0.01,
                    "delay_ms": [0, 20],
                },
            ).raise_for_status()
            sent = _drive(control, clarus_url, traffic, options.movements, console, shop_url)
            console.print(
                "[bold]merchandising[/bold] creates the missing items and re-activates the inactive ones"
            )
            if unknown:
                control.post(
                    f"{ims_url}/_control/items", json={"items": [{"itemId": s} for s in sorted(unknown)]}
                ).raise_for_status()
            for sku in sorted(inactive):
                control.patch(
                    f"{ims_url}/_control/items/{sku}", json={"isInactive": False}
                ).raise_for_status()
            deliveries = control.post(f"{clarus_url}/_control/drain", params={"timeout": 120}).json()
            _repair_and_converge(hub, sims, options, console)
            orders = (
                _order_day(day, shop, magento, sims, hub, config, config_path, console)
                if options.orders
                else None
            )
            fulfilment = (
                _despatch_day(sims, hub, config, options, mailbox, console) if options.orders else None
            )
            _converge(hub, sims, options.converge_timeout_s, console, "the channels to match the warehouse")
            health = hub.health()
        report = write_demo_report(config, options.report_dir)
        console.print(f"[bold]daily report[/bold] written: {report}")
        ims_stats = control.get(f"{ims_url}/_control/stats").json()
        shop_stats = shop_day.shop_calls(control, shop_url)
        magento_stats = magento_day.magento_calls(control, magento_url)
        drifts = {name: sims.drift(name) for name in sims.channels}
    summary = _summary(options, database_url, sent, drifts, deliveries, ims_stats, health, started)
    calls = {
        IMS_CHANNEL: (ims_stats.get("calls"), ims_stats.get("throttled_429")),
        SHOP: (shop_stats.get("calls"), shop_stats.get("throttled")),
        MAG: (magento_stats.get("calls"), magento_stats.get("throttled_429")),
    }
    summary["channels"] = _channels(database_url, sims.channels, orders, fulfilment, calls, drifts)
    summary["report"] = str(report)
    if orders is not None:
        summary["orders"] = orders[IMS_CHANNEL]
    if fulfilment is not None:
        summary["fulfilment"] = fulfilment[IMS_CHANNEL]
    _print_summary(console, summary)
    return summary


IMS_CHANNEL = "ims"


def write_demo_report(config: Config, directory: str) -> Path:
    """The daily report of the demo's day, from the hub's database (the hub has stopped)."""
    engine = make_engine(config.effective_database_url())
    try:
        return asyncio.run(write_daily(engine, config, directory, datetime.now(UTC)))
    finally:
        engine.dispose()


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


def _fulfilments(found: dict[str, Any] | None) -> dict[str, Any] | None:
    """A channel's fulfilments as the summary shows them: made with tracking (IMS Item Fulfilments
    with their packages, Shopify fulfilments with tracking numbers) against the shipments for it."""
    if found is None:
        return None
    return {
        "with_tracking": found.get("with_tracking", found.get("item_fulfilments")),
        "shipments": found["shipments"],
        "problems": found["problems"],
        "examples": found["examples"],
    }


def _channels(
    database_url: str,
    channels: list[str],
    orders: dict[str, Any] | None,
    fulfilment: dict[str, Any] | None,
    calls: dict[str, tuple[Any, Any]],
    drifts: dict[str, Drift],
) -> dict[str, Any]:
    """Each channel's entry; `calls`: (calls, throttles met) per channel, as its simulator counted."""
    engine = make_engine(database_url)
    with engine.begin() as c:
        hub = hub_figures(c, channels)
    engine.dispose()
    return {
        name: channel_summary(
            hub[name],
            None if orders is None else orders[name],
            None if fulfilment is None else _fulfilments(fulfilment.get(name)),
            *calls.get(name, (None, None)),
            drifts[name],
        )
        for name in channels
    }


@contextmanager
def mail_server(handler: Mailbox) -> Iterator[int]:
    """A local SMTP server (aiosmtpd) for the customers' shipment notices; yields its port."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


class HubControl:
    """The demo's view of the hub: status, counters, jobs run on demand (with an operator token)."""

    def __init__(self, http: httpx.Client, url: str, token: str) -> None:
        self.http = http
        self.url = url
        self.auth = {"Authorization": f"Bearer {token}"}

    def health(self) -> dict[str, Any]:
        response = self.http.get(f"{self.url}/admin/status", headers=self.auth)
        response.raise_for_status()
        health: dict[str, Any] = response.json()
        return health

    def counter(self, name: str) -> int:
        return int(self.health()["counters"].get(name, 0))

    def run_job(self, job: str, timeout_s: float = 300, wait: bool = True) -> None:
        """Ask the hub to run a scheduled job now; with `wait`, return once a run that started after
        the request (not one already under way) has finished."""
        due = self.http.post(f"{self.url}/admin/jobs/{job}", headers=self.auth).json()["due"]
        if wait:
            wait_for(lambda: self.health()["jobs"].get(job, "") >= due, timeout_s, f"the {job} job")

    def orders_settled(self) -> bool:
        health = self.health()
        return health["inbox_pending"] == 0 and not health["order_commands"].get("pending")


def _order_day(
    day: OrderDay,
    shop: ShopDay,
    magento: MagentoDay,
    sims: Sims,
    hub: HubControl,
    config: Config,
    config_path: Path,
    console: Console,
) -> dict[str, Any]:
    control, data = sims.http, sims.data
    clarus_url, ims_url, shop_url = sims.clarus_url, sims.ims_url, sims.shop_url

    def storefront_settled() -> bool:
        health = hub.health()
        return (
            hub.orders_settled()
            and not health.get("storefront_order_commands", {}).get("pending")
            and not health.get("storefront_order_rereads", {}).get("pending")
        )

    def caught_up() -> None:
        """Webhooks delivered (or lost), then the catch-up queries, as on their schedules."""
        wait_for(lambda: shop_day.deliveries_done(control, shop_url), 120, "the store's webhooks")
        hub.run_job("orders_poll")
        hub.run_job("storefront_orders_poll")
        wait_for(storefront_settled, 300, "orders to reach the warehouse")

    status = (
        f"order day: {day.orders} IMS orders, {shop.orders} Shopify orders, {magento.orders} Magento orders"
    )
    with console.status(status):
        day.create_catalog(control, ims_url)
        hub.run_job("product_sync")
        ids = day.create_orders(control, ims_url)
        shop.place(control, shop_url)
        magento.place(control, sims.magento_url)
        caught_up()
        changes = day.make_changes(control, ims_url, clarus_url, ids)
        changes.update({f"shop_{k}": v for k, v in shop.make_changes(control, shop_url, clarus_url).items()})
        console.print(f"the day's changes: {dict(changes)}")
        caught_up()
        console.print(
            f"[bold]operations[/bold] maps {', '.join(map(repr, LATE_MAPPED))} to STD; "
            "held orders (IMS, Shopify and Magento) go out by themselves"
        )
        data["orders"]["ship_methods"].update(LATE_MAPPED)
        # Written aside and renamed, so the hub never reads half a file.
        config_path.with_suffix(".new").write_text(yaml.safe_dump(data))
        config_path.with_suffix(".new").replace(config_path)
        # The hub notices the file within a second and re-checks what it holds.
        wait_for(
            lambda: "unmapped_ship_method" not in hub.health()["open_exceptions"] and storefront_settled(),
            300,
            "orders held for the ship method to go out",
        )
    engine = make_engine(config.effective_database_url())

    def held() -> dict[str, dict[str, int]]:
        with engine.begin() as c:
            records = orders_repo.orders_in(c, [OrderState.HELD])
        return held_by_channel([(r.channel, h.code) for r in records for h in r.holds])

    try:
        settings = sims.settings()  # the mappings now in force
        by_channel = held()
        ims = day.check(
            control, ims_url, clarus_url, settings, lambda: by_channel.get(IMS_CHANNEL, {}),
            lambda: hub.counter("orders.amended"),
        )  # fmt: skip
        report = shop.check(control, shop_url, clarus_url, ims_url, settings)
        magento_report, dekitted = magento.check(control, sims.magento_url, clarus_url, ims_url, settings)
        return {
            IMS_CHANNEL: ims,
            SHOP: {
                "total": len(shop.placed),
                "released": report.released,
                "held": by_channel.get(SHOP, {}),
                "held_expected": dict(report.held),
                "cancelled": report.cancelled,
                "changes": {k.removeprefix("shop_"): v for k, v in changes.items() if k.startswith("shop_")},
                "mismatches": report.mismatches,
                "mismatched_references": report.mismatched[:20],
                "mismatch_examples": report.examples,
            },
            MAG: {
                "total": len(magento.placed),
                "released": magento_report.released,
                "held": by_channel.get(MAG, {}),
                "held_expected": dict(magento_report.held),
                "cancelled": magento_report.cancelled,
                "bundle_orders": len(magento.bundle_orders),
                "bundles_dekitted": dekitted,
                "mismatches": magento_report.mismatches,
                "mismatched_references": magento_report.mismatched[:20],
                "mismatch_examples": magento_report.examples,
            },
        }
    finally:
        engine.dispose()


def _despatch_day(
    sims: Sims,
    hub: HubControl,
    config: Config,
    options: DemoOptions,
    mailbox: Mailbox,
    console: Console,
) -> dict[str, Any]:
    control, clarus_url, ims_url = sims.http, sims.clarus_url, sims.ims_url

    def settled() -> bool:
        health = hub.health()
        return hub.orders_settled() and not health["fulfilment_commands"].get("pending")

    with console.status("the warehouse despatches"):
        shipped = despatch_orders(control, clarus_url, options.seed)
        console.print(f"despatched: {dict(shipped)}")
        ghost, despatched_at = ship_before_the_order(control, clarus_url, ims_url, CLARUS_KEY)
        wait_for(
            lambda: hub.health()["shipments"].get("parked", 0) >= 1, 60, "the early shipment to be parked"
        )
        # The IMS stamps orders to the second: create the order in a later second than the despatch,
        # so the simulators' own timestamps show the shipment came first.
        wait_for(
            lambda: datetime.now(UTC).replace(microsecond=0) > despatched_at.replace(microsecond=0),
            5,
            "the clock to pass the despatch's second",
        )
        console.print("a shipment for an order the hub has not seen is parked; the order arrives")
        control.post(f"{ims_url}/_control/sales_orders", json={"orders": [ghost]}).raise_for_status()
        hub.run_job("orders_poll")
        control.post(f"{clarus_url}/_control/drain", params={"timeout": 120})
        hub.run_job("events_poll")  # the feed catches up what lost webhooks missed, as it does on schedule
        wait_for(
            lambda: (
                settled()
                and not {"parked", "store_pending"} & {k for k, v in hub.health()["shipments"].items() if v}
            ),
            900,  # the store's fulfilment queries are heavy (~600 points, nested connections)
            "fulfilments in the IMS and the store",
        )
        wait_for(lambda: len(mailbox.received) >= hub.counter("fulfilment.notify"), 60, "notices to arrive")
    released = hub.counter("fulfilment.released_from_parking")
    return {
        IMS_CHANNEL: count(
            control,
            clarus_url,
            ims_url,
            oracle_settings(config),
            mailbox,
            released,
            skip=(shop_day.PREFIX, magento_day.PREFIX),
        ),
        SHOP: shop_day.check_fulfilments(control, sims.shop_url, clarus_url, ims_url, sims.settings()),
        MAG: magento_day.check_fulfilments(control, sims.magento_url, clarus_url, ims_url),
    }


def _summary(
    options: DemoOptions,
    database_url: str,
    sent: int,
    drifts: dict[str, Drift],
    deliveries: dict[str, Any],
    ims_stats: dict[str, Any],
    health: dict[str, Any],
    started: float,
) -> dict[str, Any]:
    engine = make_engine(database_url)
    with engine.begin() as c:
        counters = read_counters(c)
        latencies = latencies_ms(c, IMS_CHANNEL)
        open_exceptions = count_open_exceptions(c)
    engine.dispose()
    ims = drifts[IMS_CHANNEL]
    return {
        "skus": options.skus,
        "movements": sent,
        "events_received": counters.get("inbox.received", 0),
        "duplicates_ignored": counters.get("inbox.duplicates", 0),
        "recovered_by_events_feed": counters.get("sync.feed_recovered", 0),
        "recovered_by_full_sync_rows": counters.get("sync.snapshot_rows", 0),
        "pushes": counters.get("push.ims.calls", 0),
        "lines_pushed": counters.get("push.ims.lines", 0),
        "latency_ms": {k: v for k, v in latency_summary(latencies).items() if k != "count"},
        "drift": sum(d.keys for d in drifts.values()),  # every channel's, all judged by the oracle
        "drift_units": sum(d.units for d in drifts.values()),
        "ims_drift": ims.keys,
        "webhooks": deliveries,
        "ims_calls": ims_stats.get("calls"),
        "ims_throttled_429": ims_stats.get("throttled_429"),
        "exceptions_open": open_exceptions,
        "dirty_targets_left": health["dirty_targets"],
        "wall_s": round(time.monotonic() - started, 1),
    }


# The Shopify store's API is down (every call a 503) while these chunks of movements go in: the blip.
BLIP_CHUNKS = (4, 8)


def _drive(
    control: httpx.Client,
    clarus_url: str,
    traffic: Traffic,
    movements: int,
    console: Console,
    shop_url: str | None = None,
) -> int:
    opening = list(traffic.initial_receipts())
    day = max(0, movements - len(opening))
    stream: Iterator[Movement] = iter(opening + [traffic.next() for _ in range(day)])
    total = len(opening) + day
    sent = chunks = 0
    with Progress(
        TextColumn("[bold]warehouse movements"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("movements", total=total)
        while sent < total:
            if shop_url is not None and chunks in BLIP_CHUNKS:
                shop_day.blip(control, shop_url, on=chunks == BLIP_CHUNKS[0])
            chunk = [m for _, m in zip(range(SEND_CHUNK), stream, strict=False)]
            response = control.post(f"{clarus_url}/_control/movements", json={"movements": chunk})
            response.raise_for_status()
            sent += len(chunk)
            chunks += 1
            progress.update(task, completed=sent)
    if shop_url is not None:
        shop_day.blip(control, shop_url, on=False)
    return sent


def _repair_and_converge(hub: HubControl, sims: Sims, options: DemoOptions, console: Console) -> None:
    console.print("full stock sync from Clarus repairs what lost webhooks hid")
    hub.run_job("full_sync")
    _converge(hub, sims, options.converge_timeout_s, console, "the IMS and the store to match the warehouse")


def _converge(hub: HubControl, sims: Sims, timeout_s: float, console: Console, what: str) -> None:
    """Wait until the hub is idle and the oracle finds no drift on any channel (reported, not raised,
    on timeout: the summary shows what is left)."""

    def converged() -> bool:
        health = hub.health()
        idle = (
            health["inbox_pending"] == 0
            and health["dirty_targets"] == 0
            and not health["batches"].get("pending")
        )
        return bool(idle) and all(sims.drift(name).keys == 0 for name in sims.channels)

    with console.status(f"waiting for {what}"):
        try:
            wait_for(converged, timeout_s, what)
        except TimeoutError as exc:
            console.print(f"[red]{exc}[/red]")


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    table = Table(
        title="stockbridge demo",
        caption=f"{ORACLE}: checked independently from the simulators' state (stockbridge.oracle); "
        f"{SIMULATOR}: counted by a simulator; {HUB}: the hub's own bookkeeping; {DEMO}: what the demo did",
    )
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_column("source")
    rows: list[tuple[str, Any, str]] = [
        ("SKUs", summary["skus"], DEMO),
        ("movements in Clarus", summary["movements"], DEMO),
        ("events received (webhooks)", summary["events_received"], HUB),
        ("duplicates ignored", summary["duplicates_ignored"], HUB),
        ("events caught up from the Clarus feed", summary["recovered_by_events_feed"], HUB),
        ("snapshot rows folded (full sync)", summary["recovered_by_full_sync_rows"], HUB),
        ("open exceptions", summary["exceptions_open"] or "none", HUB),
    ]
    orders = summary.get("orders")
    if orders is not None:
        rows += [
            ("IMS orders planned / amended", f"{orders['total']} / {orders['amended']}", HUB),
        ]
    fulfilment = summary.get("fulfilment")
    if fulfilment is not None:
        rows += [
            (
                "notices sent / before their fulfilment / missing or doubled",
                f"{fulfilment['notifications']} / {fulfilment['early_notifications']}"
                f" / {fulfilment['notices_missing_or_doubled']}",
                ORACLE,
            ),
            ("shipped before their IMS order existed", fulfilment["shipped_before_order"], ORACLE),
            ("shipments released from parking", fulfilment["released_from_parking"], HUB),
            (
                "IMS orders complete / partial",
                f"{fulfilment['orders_complete']} / {fulfilment['orders_partial']}",
                SIMULATOR,
            ),
        ]
    for name, channel in summary["channels"].items():
        rows += channel_rows(name, channel)
    rows.append(("wall time s", summary["wall_s"], DEMO))
    for what, value, source in rows:
        table.add_row(what, str(value), source)
    console.print(table)
    for name, channel in summary["channels"].items():
        console.print(
            f"[green]{name} matches the warehouse[/green]"
            if channel["drift"] == 0
            else f"[red]{name}: DRIFT LEFT {channel['drift_examples']}[/red]"
        )
        channel_orders = channel.get("orders")
        if channel_orders is not None:
            console.print(
                f"[green]every {name} order is in Clarus as the {name} says, or held with a reason[/green]"
                if channel_orders["mismatches"] == 0
                else f"[red]{channel_orders['mismatches']} {name} orders differ: "
                f"{channel_orders['mismatch_examples']}[/red]"
            )
        problems = channel.get("fulfilments") or {}
        if problems.get("problems"):
            console.print(f"[red]{name} fulfilment problems: {problems.get('examples')}[/red]")


def succeeded(summary: dict[str, Any]) -> bool:
    """The demo's verdict, all of it the oracle's: no drift on any channel, no order that differs from
    what its channel says it should be, no shipment missing, doubled or wrong in the IMS or the store,
    no notice missing, doubled or before its Item Fulfilment."""
    channels = summary.get("channels") or {}
    return summary["drift"] == 0 and all(
        (c.get("orders") or {}).get("mismatches", 0) == 0
        and (c.get("fulfilments") or {}).get("problems", 0) == 0
        for c in channels.values()
    )
