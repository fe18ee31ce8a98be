"""The scheduled jobs, by name: what each does and which system its failure or success counts
against in connector health. `Worker.run_job` looks a job up here; `stockbridge sync` and the
scheduler both go through it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from stockbridge.config import IMS_CHANNEL_NAME, Storefront
from stockbridge.connectors.alerting import alert_channels
from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.shopify.stock import as_channel
from stockbridge.engine.db import in_transaction
from stockbridge.engine.ims_items import refresh_items
from stockbridge.engine.report_jobs import run_report_job
from stockbridge.engine.schedule import claim_run, record_run
from stockbridge.flows.alerts import AlertSender, check_alerts
from stockbridge.flows.blocked import recheck_blocked
from stockbridge.flows.edge_ports import StorefrontOrderFeed
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.fulfilment_sync import verify_tracking
from stockbridge.flows.order_sync import poll_sales_orders, sync_products
from stockbridge.flows.orders import OrderFolder
from stockbridge.flows.stock_sync import full_sync, poll_events
from stockbridge.flows.storefront_orders import ImsRoute
from stockbridge.flows.storefront_sync import poll_storefront_orders, reread_tied_orders
from stockbridge.flows.subscriptions import check_subscription
from stockbridge.flows.velocity import reclassify
from stockbridge.logs import get_logger
from stockbridge.monitor.drift import check_drift
from stockbridge.monitor.slo import check_slos
from stockbridge.store import targets_repo

if TYPE_CHECKING:
    from stockbridge.engine.worker import Worker

log = get_logger(__name__)


@dataclass(frozen=True)
class JobRun:
    """One run of a job: its name, when it started, and whether the scheduler claimed it (a job
    with parts on their own schedules then runs only the parts that are due)."""

    name: str
    started: datetime
    scheduled: bool


@dataclass(frozen=True)
class Job:
    # The system connector health counts the run against ("hub": none of the far ones; a
    # storefront's share of a job counts under its own channel, `storefront_part`).
    system: str
    run: Callable[[Worker, JobRun], Awaitable[None]]


async def _item_refresh(w: Worker, run: JobRun) -> None:
    await refresh_items(w.engine, w.connections.ims)


async def _blocked_refresh(w: Worker, run: JobRun) -> None:
    blocked = await in_transaction(w.engine, lambda c: targets_repo.blocked_skus(c, IMS_CHANNEL_NAME))
    if blocked:
        await refresh_items(w.engine, w.connections.ims, blocked)


async def _storefront_refresh(w: Worker, run: JobRun) -> None:
    for name, stock in w.connections.stock_channels.items():
        if name != IMS_CHANNEL_NAME:
            await storefront_part(w, name, recheck_blocked(w.engine, stock))


async def _full_sync(w: Worker, run: JobRun) -> None:
    page_size = w.config.connectors.clarus.snapshot_page_size
    for mapping in w.config.locations:
        await full_sync(w.engine, w.connections.clarus_stock, mapping.warehouse, w.clock, page_size)


async def _events_poll(w: Worker, run: JobRun) -> None:
    for mapping in w.config.locations:
        await poll_events(w.engine, w.connections.clarus_stock, mapping.warehouse, w.config, w.clock)


async def _drift_check(w: Worker, run: JobRun) -> None:
    await check_drift(w.engine, w.connections.stock_channels.values(), w.config, w.clock)


async def _slo_check(w: Worker, run: JobRun) -> None:
    await check_slos(w.engine, w.config, w.clock)


async def _velocity_reclassify(w: Worker, run: JobRun) -> None:
    now = w.clock.now()
    await in_transaction(w.engine, lambda c: reclassify(c, w.config, now))


async def _storefront_orders_poll(w: Worker, run: JobRun) -> None:
    feeds = w.connections.storefront_orders
    for channel, store in w.config.storefronts.items():
        if channel not in feeds:
            continue
        part = f"{run.name}.{channel}"
        if run.scheduled and not await _part_due(w, part, store.orders_poll_s):
            continue
        poll = poll_storefront_orders(w.engine, channel, feeds[channel], store, w.clock)
        await storefront_part(w, channel, poll)
        await in_transaction(w.engine, lambda c: record_run(c, part, run.started))


async def _storefront_order_rereads(w: Worker, run: JobRun) -> None:
    feeds = w.connections.storefront_orders
    for channel, store in w.config.storefronts.items():
        if channel in feeds:
            await _storefront_rereads(w, channel, feeds[channel], store)


async def _orders_poll(w: Worker, run: JobRun) -> None:
    await poll_sales_orders(w.engine, w.connections.ims_orders, w.clock)


async def _product_sync(w: Worker, run: JobRun) -> None:
    conn = w.connections
    await sync_products(w.engine, conn.ims_products, conn.clarus_orders, w.config, w.clock)


async def _fulfilment_verify(w: Worker, run: JobRun) -> None:
    await verify_tracking(w.engine, w.connections.ims_fulfilments, w.config, w.clock)


async def _subscriptions_check(w: Worker, run: JobRun) -> None:
    conn = w.connections
    base = w.webhook_base or w.config.hub.webhook_base()
    secret = conn.clarus_webhook_secret
    await check_subscription(w.engine, conn.clarus_webhooks, w.config, secret, w.clock, base)


async def _finance_batch(w: Worker, run: JobRun) -> None:
    await w.finance.run()


async def _report(w: Worker, run: JobRun) -> None:
    path = await run_report_job(run.name, w.engine, w.config, w.connections, run.started)
    if path is not None:
        log.info("report written", job=run.name, path=str(path))


async def _alerts_check(w: Worker, run: JobRun) -> None:
    async with alert_channels(w.config.alerts) as channels:
        sender = AlertSender(
            engine=w.engine, config=lambda: w.config, channels=channels, clock=w.clock, worker_id=w.worker_id
        )
        await check_alerts(w.engine, w.config, sender, w.clock)


async def _fulfilment_checks(w: Worker, run: JobRun) -> None:
    now = w.clock.now()
    await in_transaction(w.engine, lambda c: FulfilmentFolder(c, w.config, now).check())


async def _revalidate_held(w: Worker, run: JobRun) -> None:
    now = w.clock.now()

    def revalidate(connection: Connection) -> None:
        OrderFolder(connection, w.config, now).revalidate_held()
        ImsRoute(connection, w.config, now).revalidate_held()

    await in_transaction(w.engine, revalidate)


async def _order_checks(w: Worker, run: JobRun) -> None:
    now = w.clock.now()
    await in_transaction(w.engine, lambda c: OrderFolder(c, w.config, now).check_stalled())


JOBS: dict[str, Job] = {
    "item_refresh": Job("ims", _item_refresh),
    "blocked_refresh": Job("ims", _blocked_refresh),
    "storefront_refresh": Job("hub", _storefront_refresh),
    "full_sync": Job("clarus", _full_sync),
    "events_poll": Job("clarus", _events_poll),
    "drift_check": Job("ims", _drift_check),
    "slo_check": Job("hub", _slo_check),
    "velocity_reclassify": Job("hub", _velocity_reclassify),
    "storefront_orders_poll": Job("hub", _storefront_orders_poll),
    # A failing store retries on its own rows and never fails the job; likewise an alert channel.
    "storefront_order_rereads": Job("hub", _storefront_order_rereads),
    "orders_poll": Job("ims", _orders_poll),
    "product_sync": Job("clarus", _product_sync),
    "fulfilment_verify": Job("ims", _fulfilment_verify),
    "subscriptions_check": Job("clarus", _subscriptions_check),
    "finance_batch": Job("ims", _finance_batch),
    "report_daily": Job("hub", _report),
    "report_weekly": Job("ims", _report),  # it reads the IMS's adjustments
    "alerts_check": Job("hub", _alerts_check),
    "fulfilment_checks": Job("hub", _fulfilment_checks),
    "revalidate_held": Job("hub", _revalidate_held),
    "order_checks": Job("hub", _order_checks),
}


async def _part_due(w: Worker, part: str, every_s: float) -> bool:
    """Claim one part's run (`job.part`) on its own schedule (`run_soon` of the job makes it due)."""
    now = w.clock.now()
    return await in_transaction(w.engine, lambda c: claim_run(c, part, now, every_s))


async def storefront_part(w: Worker, channel: str, work: Awaitable[object]) -> None:
    """One store's share of a job. Its failure names the store's channel (whatever system the
    connector named) and its success clears that channel in connector health."""
    try:
        await work
    except ConnectorError as exc:
        as_channel(exc, channel)
        raise
    await w.health.succeeded(channel)


async def _storefront_rereads(w: Worker, channel: str, feed: StorefrontOrderFeed, store: Storefront) -> None:
    """One store's tie re-reads. Only a run that called the store tells connector health it
    answered: most runs have nothing due and must not clear a failing store's count."""
    try:
        read = await reread_tied_orders(w.engine, channel, feed, store, w.clock)
    except ConnectorError as exc:
        as_channel(exc, channel)
        raise
    if read:
        await w.health.succeeded(channel)
