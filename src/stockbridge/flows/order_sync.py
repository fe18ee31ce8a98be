"""Order flow, I/O side: poll IMS orders into the inbox, send warehouse commands, sync the product master."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Unpack

from sqlalchemy import Connection, Engine, select

from stockbridge.config import Config
from stockbridge.domain.inbound import SALES_ORDER
from stockbridge.domain.order_state import CommandKind, Outcome
from stockbridge.domain.product_master import CatalogItem, audit, plan_sync
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
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.orders_repo import OrderCommand
from stockbridge.store.schema import sales_orders
from stockbridge.store.states import InboxState

ORDERS_CURSOR = "ims.sales_orders.modified"
IMS_SOURCE = "ims"


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
    engine: Engine, products: ProductMaster, clarus: WarehouseItems, config: Config, clock: Clock
) -> int:
    """Make Clarus hold every physical IMS item, active as in the IMS; then re-check held orders."""
    records = await with_retries(products.inventory_items)
    kits = await with_retries(products.kits)
    wms = await with_retries(clarus.items)
    catalog = [CatalogItem(r.sku, not r.is_inactive, r.item_type == "Kit") for r in records]
    plan = plan_sync(catalog, wms, config.sku_rules.rules())
    for wms_sku, active, source in plan.puts:
        await with_retries(lambda: clarus.put_item(wms_sku, active=active, description=source))
    now = clock.now()
    written = {sku: (active, source) for sku, active, source in plan.puts}

    def store(connection: Connection) -> int:
        items_repo.upsert_items(
            connection,
            [ImsItem(r.sku, r.item_id, r.is_inactive, r.last_modified, r.item_type) for r in records],
        )
        items_repo.replace_kits(connection, kits)
        items_repo.record_wms_items(connection, {**{s: (a, None) for s, a in wms.items()}, **written}, now)
        for wms_sku, skus in plan.collisions.items():
            raise_exception(
                connection,
                type="sku_collision",
                entity=f"sku:{wms_sku}",
                owner=config.owners.owner_of("sku_collision"),
                detail=f"IMS SKUs {', '.join(skus)} all become {wms_sku} in the warehouse; none is synced",
                now=now,
            )
        for sku, problem in plan.invalid.items():
            raise_exception(
                connection,
                type="invalid_sku",
                entity=f"sku:{sku}",
                owner=config.owners.owner_of("invalid_sku"),
                detail=f"IMS SKU {sku} cannot be created in the warehouse: {problem}",
                now=now,
            )
        resolve_exceptions(connection, "sku_collision", [f"sku:{s}" for s in written])
        bump(connection, "products.synced", len(plan.puts))
        return OrderFolder(connection, config, now).revalidate_held()

    return await in_transaction(engine, store)


async def read_sku_audit(
    products: ProductMaster, clarus: WarehouseItems, config: Config
) -> dict[str, list[object]]:
    """Read both item lists live and compare them (`stockbridge audit skus`)."""
    records = await with_retries(products.inventory_items)
    wms = await with_retries(clarus.items)
    catalog = [CatalogItem(r.sku, not r.is_inactive, r.item_type == "Kit") for r in records]
    return audit(catalog, wms, config.sku_rules.rules()).as_json()
