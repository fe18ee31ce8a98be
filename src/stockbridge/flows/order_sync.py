"""Order flow, I/O side: poll IMS orders into the inbox, send warehouse commands, sync the product master."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Unpack

from sqlalchemy import Connection, Engine, select

from stockbridge.config import Config
from stockbridge.domain.inbound import SALES_ORDER
from stockbridge.domain.order_state import CommandKind, Outcome
from stockbridge.domain.product_master import CatalogItem, ItemRecord, audit, warehouse_sku
from stockbridge.domain.skus import SkuRules
from stockbridge.engine.bounded import Slots, run_bounded
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.edge_ports import ProductMaster, SalesOrderSource, WarehouseItems, WarehouseOrders
from stockbridge.flows.orders import OrderFolder
from stockbridge.flows.outbox_sender import OutboxSender, Sending
from stockbridge.store import inbox_repo, items_repo, orders_repo
from stockbridge.store.bookkeeping import bump, get_cursor, raise_exception, resolve_exceptions, set_cursor
from stockbridge.store.dead_letters import ORDER_COMMAND_FAILED, Outbox
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.items_repo import ImsItem, SyncItem
from stockbridge.store.orders_repo import OrderCommand
from stockbridge.store.schema import sales_orders
from stockbridge.store.states import InboxState

ORDERS_CURSOR = "ims.sales_orders.modified"
IMS_SOURCE = "ims"
SYNC_PAGE = 1000  # items a page of the product sync's working list (collisions, refusals, puts)
STALE_RUN = timedelta(days=1)  # a product sync's working list left this long was a crashed run's


async def poll_sales_orders(
    engine: Engine, orders_api: SalesOrderSource, clock: Clock, concurrency: int = 4
) -> int:
    """Store every IMS sales order changed since the last poll in the inbox; returns how many."""
    cursor = await in_transaction(engine, lambda c: get_cursor(c, ORDERS_CURSOR))
    changed = await with_retries(lambda: orders_api.changed_since(cursor))
    known = await in_transaction(engine, lambda c: _known_stamps(c, [i for i, _ in changed]))
    # NetSuite stamps to the second and the query is inclusive: re-read the orders stamped in the
    # cursor's own second (an edit in that second would otherwise be missed), skip the rest we hold.
    wanted = [(i, stamp) for i, stamp in changed if known.get(i) != stamp or stamp == cursor]

    async def fetch(ims_id: str) -> InboundEvent:
        order = await with_retries(lambda: orders_api.get(ims_id))
        version = orders_repo.order_version(order)
        payload = json.dumps(orders_repo.sales_order_json(order))
        return InboundEvent(IMS_SOURCE, f"so:{ims_id}:{version}", SALES_ORDER, payload)

    events = await run_bounded([i for i, _ in wanted], concurrency, fetch)
    newest = max((stamp for _, stamp in changed), default=cursor)

    def store(connection: Connection) -> int:
        inserted = inbox_repo.insert_events(connection, list(events), clock.now(), InboxState.PENDING)
        if newest:
            set_cursor(connection, ORDERS_CURSOR, newest)
        bump(connection, "orders.versions_polled", inserted)
        return inserted

    return await in_transaction(engine, store)


def _known_stamps(connection: Connection, ims_ids: list[str]) -> dict[str, str]:
    query = select(sales_orders.c.ims_id, sales_orders.c.ims_order).where(sales_orders.c.ims_id.in_(ims_ids))
    return {r.ims_id: r.ims_order["last_modified"] for r in connection.execute(query)} if ims_ids else {}


class OrderCommandSender(OutboxSender[OrderCommand, tuple[Outcome, str]]):
    """Sends outboxed commands to Clarus; a command's answer and the order's next decision are one
    transaction. Creates are idempotent at Clarus by order reference.

    Commands go out in `concurrency` slots (`OutboxSender`): a create that hangs until its timeout
    holds one slot while the others carry on with other orders (an order has at most one command
    pending, so commands of different orders never race). A timed-out create is retried later;
    Clarus answers the retry 409 if the first one went through.
    """

    outbox = Outbox.ORDERS

    def __init__(
        self,
        *,
        clarus: WarehouseOrders,
        concurrency: int = 4,
        on_answered: Callable[[], None] | None = None,
        **sending: Unpack[Sending],
    ) -> None:
        super().__init__(
            lanes=[(Slots(concurrency, "order commands"), orders_repo.claim_commands)],
            finish=orders_repo.command_done,
            record_failure=orders_repo.command_failed,
            **sending,
        )
        self._clarus = clarus
        self._on_answered = on_answered

    async def send(self, command: OrderCommand) -> tuple[Outcome, str]:
        if command.kind == CommandKind.CANCEL:
            return await self._clarus.cancel(command.reference)
        if command.order is not None and command.kind == CommandKind.CREATE:
            return await self._clarus.create(command.order)
        if command.order is not None:
            return await self._clarus.amend(command.order)
        return Outcome.DONE, ""

    def answered(
        self, connection: Connection, command: OrderCommand, answer: tuple[Outcome, str], now: datetime
    ) -> None:
        outcome, reason = answer
        OrderFolder(connection, self._config(), now).command_answered(command, outcome, reason)

    def after_answer(self, command: OrderCommand, answer: tuple[Outcome, str]) -> None:
        if self._on_answered is not None:
            self._on_answered()

    def exception_of(self, command: OrderCommand) -> tuple[str, str]:
        return ORDER_COMMAND_FAILED, f"order:{command.reference}"

    def work_of(self, command: OrderCommand) -> tuple[str, str]:
        return f"order {command.kind.value}", command.reference

    def name_of(self, command: OrderCommand) -> str:
        return command.kind.value


async def sync_products(
    engine: Engine,
    products: ProductMaster,
    clarus: WarehouseItems,
    config: Config,
    clock: Clock,
    page_size: int = SYNC_PAGE,
) -> int:
    """Make Clarus hold every physical IMS item, active as in the IMS; then re-check held orders.

    A page at a time, whatever the catalogue's size (docs/decisions/0044): Clarus's item list is
    recorded as read (`wms_items`), the IMS's stored (`ims_items`) with each physical item's warehouse
    SKU in the run's working list (`product_sync_items`); collisions, refusals and the items to put
    are then read from there a page at a time. The same plan as `plan_sync` over the whole lists.
    """
    rules = config.sku_rules.rules()
    run = uuid.uuid4().hex
    started = clock.now()
    await in_transaction(engine, lambda c: items_repo.clear_sync_items(c, before=started - STALE_RUN))
    try:
        await with_retries(lambda: _read_warehouse_items(engine, clarus, started))
        await with_retries(lambda: _read_ims_items(engine, products, rules, run, started))
        kits = await with_retries(products.kits)
        await in_transaction(engine, lambda c: items_repo.mark_collisions(c, run))
        await _raise_collisions(engine, config, clock, run, page_size)
        await _raise_invalid(engine, config, clock, run, page_size)
        await _put_items(engine, clarus, clock, run, started, page_size)
    finally:
        await in_transaction(engine, lambda c: items_repo.clear_sync_items(c, run=run))

    def finish(connection: Connection) -> int:
        items_repo.replace_kits(connection, kits)
        return OrderFolder(connection, config, clock.now()).revalidate_held()

    return await in_transaction(engine, finish)


async def _read_warehouse_items(engine: Engine, clarus: WarehouseItems, read_at: datetime) -> None:
    """Record Clarus's items a page at a time, stamped `read_at`: what the run found there."""
    async for page in clarus.item_pages():
        await in_transaction(
            engine,
            partial(items_repo.record_wms_items, items={s: (a, None) for s, a in page.items()}, now=read_at),
        )


async def _read_ims_items(
    engine: Engine, products: ProductMaster, rules: SkuRules, run: str, now: datetime
) -> None:
    """Store the IMS's items a page at a time, each physical one in the run's working list."""

    def store(connection: Connection, records: list[ItemRecord]) -> None:
        items_repo.upsert_items(
            connection,
            [ImsItem(r.sku, r.item_id, r.is_inactive, r.last_modified, r.item_type) for r in records],
        )
        working: list[SyncItem] = []
        for r in records:
            item = CatalogItem(r.sku, not r.is_inactive, r.item_type == "Kit")
            if (key := warehouse_sku(item, rules)) is not None:
                working.append(SyncItem(r.sku, key[0], item.active, key[1]))
        items_repo.add_sync_items(connection, run, working, now)

    async for page in products.inventory_item_pages():
        await in_transaction(engine, partial(store, records=page))


async def _raise_collisions(engine: Engine, config: Config, clock: Clock, run: str, page_size: int) -> None:
    """SKUs that collide after normalisation are not synced at all: which one would win is a
    merchandising decision."""
    after: str | None = None
    while True:

        def page(connection: Connection, after: str | None = after) -> str | None:
            groups = items_repo.collisions_after(connection, run, after, page_size)
            for wms_sku, skus in groups.items():
                raise_exception(
                    connection,
                    type="sku_collision",
                    entity=f"sku:{wms_sku}",
                    owner=config.owners.owner_of("sku_collision"),
                    detail=f"IMS SKUs {', '.join(skus)} all become {wms_sku} in the warehouse; "
                    "none is synced",
                    now=clock.now(),
                )
            return list(groups)[-1] if len(groups) == page_size else None

        if (after := await in_transaction(engine, page)) is None:
            return


async def _raise_invalid(engine: Engine, config: Config, clock: Clock, run: str, page_size: int) -> None:
    after: str | None = None
    while True:

        def page(connection: Connection, after: str | None = after) -> str | None:
            items = items_repo.invalid_after(connection, run, after, page_size)
            for item in items:
                raise_exception(
                    connection,
                    type="invalid_sku",
                    entity=f"sku:{item.ims_sku}",
                    owner=config.owners.owner_of("invalid_sku"),
                    detail=f"IMS SKU {item.ims_sku} cannot be created in the warehouse: {item.problem}",
                    now=clock.now(),
                )
            return items[-1].ims_sku if len(items) == page_size else None

        if (after := await in_transaction(engine, page)) is None:
            return


async def _put_items(
    engine: Engine, clarus: WarehouseItems, clock: Clock, run: str, read_at: datetime, page_size: int
) -> None:
    """Put what the warehouse lacks or holds otherwise, a page at a time; each page's items are
    recorded as written (and their collisions, if any were open, are over)."""
    after: str | None = None
    while True:
        read = partial(items_repo.puts_after, run=run, seen_since=read_at, after=after, limit=page_size)
        puts = await in_transaction(engine, read)
        for item in puts:
            put = partial(clarus.put_item, item.wms_sku, active=item.active, description=item.ims_sku)
            await with_retries(put)
        now = clock.now()

        def store(connection: Connection, puts: list[SyncItem] = puts) -> None:
            items_repo.record_wms_items(connection, {i.wms_sku: (i.active, i.ims_sku) for i in puts}, now)
            resolve_exceptions(connection, "sku_collision", [f"sku:{i.wms_sku}" for i in puts])
            bump(connection, "products.synced", len(puts))

        await in_transaction(engine, store)
        if len(puts) < page_size:
            return
        after = puts[-1].wms_sku


async def read_sku_audit(
    products: ProductMaster, clarus: WarehouseItems, config: Config
) -> dict[str, list[object]]:
    """Read both item lists live and compare them (`stockbridge audit skus`)."""
    records = await with_retries(products.inventory_items)
    wms = await with_retries(clarus.items)
    catalog = [CatalogItem(r.sku, not r.is_inactive, r.item_type == "Kit") for r in records]
    return audit(catalog, wms, config.sku_rules.rules()).as_json()
