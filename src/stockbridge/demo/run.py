"""`stockbridge demo` from start to end: the simulators and the hub on loopback, the day's phases
in order, the daily report, and the summary."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from stockbridge.config import Config, parse_config
from stockbridge.demo import magento_day, shop_day
from stockbridge.demo.days import despatch_day, order_day
from stockbridge.demo.despatch_day import Mailbox
from stockbridge.demo.harness import issue_token, running_hub, wait_for
from stockbridge.demo.hub_control import HubControl
from stockbridge.demo.magento_day import MAG, MagentoDay
from stockbridge.demo.orders_day import OrderDay
from stockbridge.demo.phases import Phases, converge, drive
from stockbridge.demo.shop_day import SHOP, ShopDay
from stockbridge.demo.summary import build_summary, channels_entry, print_summary, velocity_class_counts
from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.demo.world import (
    CLARUS_KEY,
    IMS_CHANNEL,
    IMS_TOKEN,
    WEBHOOK_SECRET,
    DemoOptions,
    Sims,
    demo_config_data,
    mail_server,
    subscribed,
)
from stockbridge.reports import write_daily
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.simulators import ims as ims_sim
from stockbridge.simulators import magento as magento_sim
from stockbridge.simulators import shopify as shopify_sim
from stockbridge.store.db import make_engine
from stockbridge.store.tokens_repo import Role

# Clarus's webhooks as the demo breaks them: some doubled, reordered, failed (retried) or lost.
CLARUS_FAULTS = {
    "duplicate_rate": 0.05,
    "reorder_rate": 0.05,
    "failure_rate": 0.02,
    "drop_rate": 0.01,
    "delay_ms": [0, 20],
}


def run_demo(options: DemoOptions) -> dict[str, Any]:
    console = Console(stderr=True, quiet=options.quiet)
    with tempfile.TemporaryDirectory(prefix="stockbridge-demo-") as tmp:
        database_url = options.database_url or f"sqlite:///{Path(tmp) / 'stockbridge.db'}"
        return _run(options, database_url, Path(tmp), console)


def write_demo_report(config: Config, directory: str) -> Path:
    """The daily report of the demo's day, from the hub's database (the hub has stopped)."""
    engine = make_engine(config.effective_database_url())
    try:
        return asyncio.run(write_daily(engine, config, directory, datetime.now(UTC)))
    finally:
        engine.dispose()


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
        Phases(console) as phases,
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
            database = config.effective_database_url()
            hub = HubControl(
                control,
                hub_url,
                issue_token(database, "demo"),
                issue_token(database, "demo-scraper", Role.VIEWER),
            )
            # The hub subscribes itself to Clarus's webhooks when it starts (flows/subscriptions.py).
            wait_for(lambda: subscribed(control, clarus_url, hub_url), 30, "the hub's webhook subscription")
            control.put(f"{clarus_url}/_control/faults", json=CLARUS_FAULTS).raise_for_status()
            sent = drive(control, clarus_url, traffic, options.movements, phases, shop_url, magento_url)
            with phases.phase("repair and converge", 3) as step:
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
                step.advance()
                console.print("full stock sync from Clarus repairs what lost webhooks hid")
                hub.run_job("full_sync")
                step.advance()
                converge(
                    hub, sims, options.converge_timeout_s, console, "the channels to match the warehouse"
                )
            orders = (
                order_day(day, shop, magento, sims, hub, config, config_path, phases, console)
                if options.orders
                else None
            )
            fulfilment = (
                despatch_day(sims, hub, config, options.seed, mailbox, phases, console)
                if options.orders
                else None
            )
            with phases.phase("converge", 1):
                converge(
                    hub, sims, options.converge_timeout_s, console, "the channels to match the warehouse"
                )
            metrics = hub.scrape_metrics()
            health = hub.health()
            hub.run_job("velocity_reclassify")
        with phases.phase("daily report", 1):
            report = write_demo_report(config, options.report_dir).resolve()
        ims_stats = control.get(f"{ims_url}/_control/stats").json()
        shop_stats = shop_day.shop_calls(control, shop_url)
        magento_stats = magento_day.magento_calls(control, magento_url)
        drifts = {name: sims.drift(name) for name in sims.channels}
    summary = build_summary(options, database_url, sent, drifts, deliveries, ims_stats, health)
    calls = {
        name: {
            "calls": stats.get("calls"),
            "throttled": stats.get(throttled),
            "failed": stats.get(failed),
        }
        for name, stats, throttled, failed in (
            (IMS_CHANNEL, ims_stats, "throttled_429", "errors_5xx"),
            (SHOP, shop_stats, "throttled", "failed_injected"),
            (MAG, magento_stats, "throttled_429", "failed_injected"),
        )
    }
    summary["channels"] = channels_entry(database_url, sims.channels, orders, fulfilment, calls, drifts)
    summary["metrics"] = metrics
    summary["velocity_classes"] = velocity_class_counts(database_url)
    summary["report"] = str(report)
    if orders is not None:
        summary["orders"] = orders[IMS_CHANNEL]
    if fulfilment is not None:
        summary["fulfilment"] = fulfilment[IMS_CHANNEL]
    summary["phases_s"] = dict(phases.seconds)
    summary["wall_s"] = round(time.monotonic() - started, 1)
    print_summary(console, summary)
    return summary
