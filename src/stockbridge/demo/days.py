"""The order day and the despatch day as the demo runs them against the hub: orders placed in the
IMS and both stores, the day's changes, a ship method mapped late, then the warehouse despatching;
the hub's jobs run on demand (as an operator would) rather than on their schedules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from stockbridge.config import Config
from stockbridge.demo import magento_day, shop_day
from stockbridge.demo.channels import held_by_channel
from stockbridge.demo.despatch_day import Mailbox, count, despatch_orders, ship_before_the_order
from stockbridge.demo.harness import oracle_settings, wait_for
from stockbridge.demo.hub_control import HubControl
from stockbridge.demo.magento_day import MAG, MagentoDay
from stockbridge.demo.orders_day import LATE_MAPPED, OrderDay
from stockbridge.demo.phases import Phases
from stockbridge.demo.shop_day import SHOP, ShopDay
from stockbridge.demo.world import CLARUS_KEY, IMS_CHANNEL, Sims
from stockbridge.domain.order_state import OrderState
from stockbridge.store import orders_repo
from stockbridge.store.db import make_engine

ORDER_DAY_STEPS = 6
DESPATCH_DAY_STEPS = 5


def order_day(
    day: OrderDay,
    shop: ShopDay,
    magento: MagentoDay,
    sims: Sims,
    hub: HubControl,
    config: Config,
    config_path: Path,
    phases: Phases,
    console: Console,
) -> dict[str, Any]:
    """Orders from the IMS, Shopify and Magento; edits, cancellations, picks; a ship method mapped
    late releases the orders held for it. Returns each channel's orders as the oracle judges them."""
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
        """Webhooks delivered (or lost), then the catch-up queries the schedules would run."""
        wait_for(lambda: shop_day.deliveries_done(control, shop_url), 120, "the store's webhooks")
        hub.run_job("orders_poll")
        hub.run_job("storefront_orders_poll")
        wait_for(storefront_settled, 300, "orders to reach the warehouse")

    console.print(
        f"order day: {day.orders} IMS orders, {shop.orders} Shopify orders, {magento.orders} Magento orders"
    )
    with phases.phase("order day", ORDER_DAY_STEPS) as step:
        day.create_catalog(control, ims_url)
        hub.run_job("product_sync")
        ids = day.create_orders(control, ims_url)
        shop.place(control, shop_url)
        magento.place(control, sims.magento_url)
        step.advance()
        caught_up()
        step.advance()
        changes = day.make_changes(control, ims_url, clarus_url, ids)
        changes.update({f"shop_{k}": v for k, v in shop.make_changes(control, shop_url, clarus_url).items()})
        console.print(f"the day's changes: {dict(changes)}")
        step.advance()
        caught_up()
        step.advance()
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
        step.advance()
        found = _judge_orders(day, shop, magento, sims, hub, config, changes)
    return found


def _judge_orders(
    day: OrderDay,
    shop: ShopDay,
    magento: MagentoDay,
    sims: Sims,
    hub: HubControl,
    config: Config,
    changes: dict[str, int],
) -> dict[str, Any]:
    """Each channel's orders as the oracle judges them, with what the hub holds and why."""
    control, clarus_url, ims_url = sims.http, sims.clarus_url, sims.ims_url
    engine = make_engine(config.effective_database_url())
    try:
        with engine.begin() as c:
            records = orders_repo.orders_in(c, [OrderState.HELD])
        by_channel = held_by_channel([(r.channel, h.code) for r in records for h in r.holds])
    finally:
        engine.dispose()
    settings = sims.settings()  # the mappings now in force
    ims = day.check(
        control, ims_url, clarus_url, settings, lambda: by_channel.get(IMS_CHANNEL, {}),
        lambda: hub.counter("orders.amended"),
    )  # fmt: skip
    report = shop.check(control, sims.shop_url, clarus_url, ims_url, settings)
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


def despatch_day(
    sims: Sims,
    hub: HubControl,
    config: Config,
    seed: int,
    mailbox: Mailbox,
    phases: Phases,
    console: Console,
) -> dict[str, Any]:
    """The warehouse ships (in parcels, some partial); one shipment comes before its IMS order and
    is parked until it arrives; fulfilments reach the IMS and both stores, notices the customers."""
    control, clarus_url, ims_url = sims.http, sims.clarus_url, sims.ims_url

    def settled() -> bool:
        health = hub.health()
        return hub.orders_settled() and not health["fulfilment_commands"].get("pending")

    with phases.phase("despatch day", DESPATCH_DAY_STEPS) as step:
        shipped = despatch_orders(control, clarus_url, seed)
        console.print(f"despatched: {dict(shipped)}")
        step.advance()
        ghost, despatched_at = ship_before_the_order(control, clarus_url, ims_url, CLARUS_KEY)
        # Its webhook queues behind the day's despatches (and may be lost, as some of theirs are): wait
        # for Clarus to send them all, then the feed catches up what lost webhooks missed (as it does
        # on schedule), rather than guess how long a loaded machine takes.
        control.post(f"{clarus_url}/_control/drain", params={"timeout": 300})
        hub.run_job("events_poll")
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
        step.advance()
        console.print("a shipment for an order the hub has not seen is parked; the order arrives")
        control.post(f"{ims_url}/_control/sales_orders", json={"orders": [ghost]}).raise_for_status()
        hub.run_job("orders_poll")
        step.advance()
        wait_for(
            lambda: (
                settled()
                and not {"parked", "store_pending"} & {k for k, v in hub.health()["shipments"].items() if v}
            ),
            900,  # the store's fulfilment queries are heavy (~600 points, nested connections)
            "fulfilments in the IMS and the store",
        )
        step.advance()
        wait_for(lambda: len(mailbox.received) >= hub.counter("fulfilment.notify"), 60, "notices to arrive")
        released = hub.counter("fulfilment.released_from_parking")
        found = {
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
    return found
