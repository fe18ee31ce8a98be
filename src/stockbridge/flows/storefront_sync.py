"""Storefront orders, I/O side: the catch-up query into the inbox, and the IMS route's commands.

Catch-up: webhooks arrive at least once but may be lost (the store gives up after its retries, the
hub was down for hours); each store's `updated_since` reads every order changed since the cursor,
less `orders_overlap_s`, into the inbox as a version keyed by (order, version), so one already
stored is recognised and a webhook's copy folds as "not newer". The cursor is the newest
`updated_at` seen. Each version it stores is marked with when it was read (decision 0024).

Re-reads: two webhook copies of one order stamped in the same second with other content tie; the
fold asks for one read of that order from the store once the second is over. `reread_tied_orders`
reads each due order (at most `tie_rereads_per_run` per store and run) and stores the read in the
inbox in the same transaction that removes the request, where it settles the tie.

IMS route: a command says "make the IMS sales order match this storefront order"; it reads the
newest version when it runs, so commands never queue up behind each other, and a version folded
while one was in flight queues the next.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Unpack

from sqlalchemy import Connection, Engine

from stockbridge.config import Storefront
from stockbridge.domain.errors import ConnectorError, RejectedError
from stockbridge.domain.inbound import STOREFRONT_ORDER_VERSION
from stockbridge.domain.storefront_orders import StorefrontOrder
from stockbridge.domain.storefront_routing import (
    ImsOrderRequest,
    ImsOrderResult,
    RoutedState,
    ims_order_request,
    ims_status,
    released,
    same_content,
    storefront_version,
)
from stockbridge.engine.bounded import Slots
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.engine.schedule import run_at
from stockbridge.flows.edge_ports import ImsStorefrontOrders, StorefrontOrderFeed
from stockbridge.flows.outbox_sender import OutboxSender, Sending
from stockbridge.flows.storefront_orders import REREAD_JOB, ImsRoute
from stockbridge.logs import get_logger
from stockbridge.store import inbox_repo, storefront_repo
from stockbridge.store.bookkeeping import bump, get_cursor, set_cursor
from stockbridge.store.dead_letters import STOREFRONT_ORDER_FAILED, Outbox
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.states import InboxState
from stockbridge.store.storefront_repo import Reread, SyncCommand

log = get_logger(__name__)


def cursor_name(channel: str) -> str:
    return f"storefront.{channel}.orders.updated_at"


async def poll_storefront_orders(
    engine: Engine, channel: str, feed: StorefrontOrderFeed, store: Storefront, clock: Clock
) -> int:
    """Store every order of `channel` changed since the cursor (less the overlap); returns how many
    versions were new to the inbox. The first run reads back `orders_overlap_s`."""
    cursor = await in_transaction(engine, lambda c: get_cursor(c, cursor_name(channel)))
    newest = datetime.fromisoformat(cursor) if cursor else clock.now()
    since = newest - timedelta(seconds=store.orders_overlap_s)
    read_at = clock.now()  # before the query: each order it returns is at least this recent
    orders = await with_retries(lambda: feed.updated_since(since))
    events = [
        InboundEvent(
            channel,
            f"order:{order.order_id}:{storefront_version(order)}",
            STOREFRONT_ORDER_VERSION,
            json.dumps(storefront_repo.read_order_json(order, read_at)),
        )
        for order in orders
    ]
    latest = max((order.updated_at for order in orders), default=newest)

    def stored(connection: Connection) -> int:
        inserted = inbox_repo.insert_events(connection, events, clock.now(), InboxState.PENDING)
        set_cursor(connection, cursor_name(channel), max(latest, newest).isoformat())
        bump(connection, f"storefront_orders.{channel}.polled", inserted)
        return inserted

    return await in_transaction(engine, stored)


async def reread_tied_orders(
    engine: Engine, channel: str, feed: StorefrontOrderFeed, store: Storefront, clock: Clock
) -> int:
    """Read each order of `channel` whose versions tied and whose re-read is due (at most the store's
    `tie_rereads_per_run`) and store each read in the inbox; returns how many were read. A failed
    read leaves its request for the next run; what is left makes the job due again when it is."""
    now = clock.now()
    due = await in_transaction(
        engine, lambda c: storefront_repo.due_rereads(c, channel, now, store.tie_rereads_per_run)
    )
    for reread in due:
        read_at = clock.now()  # before the read: the order it returns is at least this recent
        try:
            order = await with_retries(lambda: feed.order(reread.order_id))
        except RejectedError as exc:  # the store refuses this read: asking again would not help
            log.warning("storefront order re-read refused", order_id=reread.order_id, error=str(exc))
            order = None
        await in_transaction(engine, lambda c: _store_read(c, reread, order, read_at))
    await in_transaction(engine, _next_run)
    return len(due)


def _store_read(
    connection: Connection, reread: Reread, order: StorefrontOrder | None, read_at: datetime
) -> None:
    storefront_repo.reread_done(connection, reread)
    bump(connection, f"storefront_orders.{reread.channel}.rereads")
    if order is None:  # the store no longer has it, or refused: nothing the hub can settle
        return
    event = InboundEvent(
        reread.channel,
        f"order:{order.order_id}:read:{read_at.isoformat()}",
        STOREFRONT_ORDER_VERSION,
        json.dumps(storefront_repo.read_order_json(order, read_at)),
    )
    inbox_repo.insert_events(connection, [event], read_at, InboxState.PENDING)


def _next_run(connection: Connection) -> None:
    due = storefront_repo.next_reread_due(connection)
    if due is not None:
        run_at(connection, REREAD_JOB, due)


# What a command answers: the version sent and the IMS's answer, or None when there was nothing to
# send any more (held, or the store left the config).
Sent = tuple[str, ImsOrderResult] | None


class StorefrontOrderSender(OutboxSender[SyncCommand, Sent]):
    """Sends the IMS route's commands (`OutboxSender`): one IMS call per storefront order, answered
    in the same transaction as the order's new state; retried with back-off, dead-lettered with an
    exception. An order has at most one command pending, so commands in different slots are for
    different orders and never race."""

    outbox = Outbox.STOREFRONT_ORDERS

    def __init__(self, *, ims: ImsStorefrontOrders, concurrency: int = 4, **sending: Unpack[Sending]) -> None:
        super().__init__(
            lanes=[(Slots(concurrency, "storefront order commands"), storefront_repo.claim_commands)],
            finish=storefront_repo.command_done,
            record_failure=storefront_repo.command_failed,
            **sending,
        )
        self._ims = ims

    async def send(self, command: SyncCommand) -> Sent:
        prepared = await in_transaction(self._engine, lambda c: self._request(c, command))
        if prepared is None:
            return None
        version, request = prepared
        return version, await self._ims.put_storefront_order(request)

    def _request(self, connection: Connection, command: SyncCommand) -> tuple[str, ImsOrderRequest] | None:
        routed = storefront_repo.get_routed(connection, command.channel, command.order_id)
        config = self._config()
        store = config.storefronts.get(command.channel)
        if routed is None or store is None:
            return None
        if routed.ims_id is None and not released(routed.order, store.releasing_statuses):
            return None  # cancelled (or no longer paid) before the IMS ever had it: nothing to make
        request = ims_order_request(
            routed.order,
            reference=routed.reference,
            customer_id=store.ims_customer or "",
            status=ims_status(config.orders.release_statuses),
            items=ImsRoute(connection, config, self._clock.now()).items(),
            ims_lines=routed.ims_lines,
        )
        return None if isinstance(request, list) else (routed.version, request)

    def answered(
        self,
        connection: Connection,
        command: SyncCommand,
        answer: Sent,
        now: datetime,
    ) -> None:
        if answer is None:
            return
        version, result = answer
        routed = storefront_repo.get_routed(connection, command.channel, command.order_id, lock=True)
        if routed is None:
            return
        state = RoutedState.CANCELLED if routed.order.cancelled else RoutedState.SYNCED
        synced = replace(
            routed, ims_id=result.ims_id, ims_lines=dict(result.lines), synced_version=version, state=state
        )
        store = self._config().storefronts.get(command.channel)
        if not same_content(routed.version, version) and store is not None:
            ImsRoute(connection, self._config(), now).decide(synced, store)  # changed meanwhile: again
        else:
            storefront_repo.save_routed(connection, synced, now)
        bump(connection, "storefront_orders.ims_synced")
        log.info("storefront order put into the IMS", reference=command.reference, ims_id=result.ims_id)

    def exception_of(self, command: SyncCommand) -> tuple[str, str]:
        return STOREFRONT_ORDER_FAILED, f"order:{command.reference}"

    def work_of(self, command: SyncCommand) -> tuple[str, str]:
        return "storefront order into the IMS", command.reference

    def dead_letter_detail(
        self, command: SyncCommand, attempts: int, since: datetime, failure: ConnectorError
    ) -> str:
        return f"the IMS sales order was not made to match after {attempts} attempts: {failure}"
