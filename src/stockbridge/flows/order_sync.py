"""Order flow, I/O side: poll IMS orders into the inbox, send warehouse commands, sync the product master."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection, Engine, select

from stockbridge.config import Config
from stockbridge.domain.errors import ConnectorError, RetriableError
from stockbridge.domain.inbound import SALES_ORDER
from stockbridge.domain.order_state import CommandKind, Outcome
from stockbridge.domain.product_master import CatalogItem, audit, plan_sync
from stockbridge.engine.bounded import Slots, run_bounded
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at, with_retries
from stockbridge.flows.edge_ports import ProductMaster, SalesOrderSource, WarehouseItems, WarehouseOrders
from stockbridge.flows.orders import OrderFolder
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import inbox_repo, items_repo, orders_repo
from stockbridge.store.bookkeeping import bump, get_cursor, raise_exception, resolve_exceptions, set_cursor
from stockbridge.store.dead_letters import ORDER_COMMAND_FAILED, Outbox, replay_action
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.orders_repo import OrderCommand
from stockbridge.store.schema import sales_orders
from stockbridge.store.states import InboxState

log = get_logger(__name__)

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


class OrderCommandSender:
    """Sends outboxed commands to Clarus; a command's answer and the order's next decision are one
    transaction. Creates are idempotent at Clarus by order reference.

    Commands go out in `concurrency` slots, each claimed when a slot is free: a create that hangs
    until its timeout holds one slot while the others carry on with other orders (an order has at
    most one command pending, so commands of different orders never race). A timed-out create is
    retried later; Clarus answers the retry 409 if the first one went through.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        config: Callable[[], Config],
        clarus: WarehouseOrders,
        clock: Clock,
        worker_id: str,
        concurrency: int = 4,
        rng: random.Random | None = None,
        on_answered: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        # Mapping tables reload while the hub runs: each decision reads the configuration of now.
        self._config = config
        self._clarus = clarus
        self._clock = clock
        self._owner = worker_id
        self._slots = Slots(concurrency, "order commands")
        self._rng = rng or random.Random()
        self._on_answered = on_answered

    async def run_cycle(self) -> int:
        """Claim as many due commands as there are free slots and start sending them; returns how
        many started. Waits for a free slot, never for the commands themselves."""
        await self._slots.wait_for_free_slot()
        now = self._clock.now()
        lease = now + timedelta(seconds=self._config().engine.lease_s)
        free = self._slots.free
        commands = await in_transaction(
            self._engine, lambda c: orders_repo.claim_commands(c, self._owner, now, lease, free)
        )
        for command in commands:
            self._slots.start(self._send(command))
        return len(commands)

    async def drain(self) -> None:
        """Wait until every command started has been answered or has failed."""
        await self._slots.join()

    async def aclose(self) -> None:
        """Stop sending (on shutdown): commands cut off keep their lease, which brings them back."""
        await self._slots.cancel()

    async def _send(self, command: OrderCommand) -> None:
        failure: ConnectorError | None = None
        outcome, reason = Outcome.DONE, ""
        try:
            if command.kind == CommandKind.CANCEL:
                outcome, reason = await self._clarus.cancel(command.reference)
            elif command.order is not None and command.kind == CommandKind.CREATE:
                outcome, reason = await self._clarus.create(command.order)
            elif command.order is not None:
                outcome, reason = await self._clarus.amend(command.order)
        except ConnectorError as exc:
            failure = exc
        if failure is None:
            await in_transaction(self._engine, lambda c: self._answered(c, command, outcome, reason))
            if self._on_answered is not None:
                self._on_answered()
        else:
            await in_transaction(self._engine, lambda c: self._failed(c, command, failure))

    def _answered(self, connection: Connection, command: OrderCommand, outcome: Outcome, reason: str) -> None:
        now = self._clock.now()
        if orders_repo.command_done(connection, command, self._owner, now):
            OrderFolder(connection, self._config(), now).command_answered(command, outcome, reason)
            resolve_exceptions(connection, ORDER_COMMAND_FAILED, [f"order:{command.reference}"])

    def _failed(self, connection: Connection, command: OrderCommand, failure: ConnectorError) -> None:
        now = self._clock.now()
        attempt = command.attempts + 1
        since = command.failing_since or now
        retry_at = (
            next_attempt_at(
                self._config().engine,
                attempt,
                now,
                failing_since=since,
                retry_after=failure.retry_after,
                rng=self._rng,
            )
            if isinstance(failure, RetriableError)
            else None
        )
        orders_repo.command_failed(connection, command, self._owner, str(failure), retry_at, since)
        attempt_failed(
            log,
            work=f"order {command.kind.value}",
            entity=command.reference,
            attempt=attempt,
            error=str(failure),
            retry_at=retry_at,
        )
        if retry_at is None:
            raise_exception(
                connection,
                type=ORDER_COMMAND_FAILED,
                entity=f"order:{command.reference}",
                owner=self._config().owners.owner_of(ORDER_COMMAND_FAILED),
                detail=f"{command.kind.value} dead-lettered after {attempt} attempts since "
                f"{since:%Y-%m-%d %H:%M:%S} UTC: {failure}",
                now=now,
                retry_action=replay_action(Outbox.ORDERS, command.id),
            )


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
