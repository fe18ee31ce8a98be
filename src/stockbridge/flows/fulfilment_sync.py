"""Fulfilment flow, I/O side: Item Fulfilments and invoices to the IMS, notices to customers, and
storefront fulfilments (with tracking) to the store an order came from."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import timedelta

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.errors import ConnectorError, RejectedError, RetriableError
from stockbridge.domain.fulfilment import RollupError, ShipmentNotice
from stockbridge.domain.fulfilment_state import FulfilmentCommand
from stockbridge.domain.storefront_fulfilment import (
    direct_line_items,
    ims_line_items,
    storefront_lines,
    tracking_of,
)
from stockbridge.engine.bounded import Slots, wait_for_any_free_slot
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import next_attempt_at
from stockbridge.flows.edge_ports import CustomerNotifier, FulfilmentTarget, StorefrontFulfilments
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.logs import attempt_failed, get_logger
from stockbridge.store import fulfilment_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.dead_letters import Outbox, fulfilment_failure_type, replay_action
from stockbridge.store.fulfilment_repo import FulfilmentTask, ShipmentRecord
from stockbridge.store.orders_repo import OrderRecord

log = get_logger(__name__)

STOREFRONT = (FulfilmentCommand.STORE_FULFILMENT,)
IMS_AND_CUSTOMER = tuple(kind for kind in FulfilmentCommand if kind not in STOREFRONT)


def if_external_id(shipment_id: str) -> str:
    return f"sb-if-{shipment_id}"


def invoice_external_id(shipment_id: str) -> str:
    return f"sb-inv-{shipment_id}"


class FulfilmentSender:
    """Sends outboxed fulfilment commands: Item Fulfilments and invoices to the IMS, notices to
    customers. A command's answer and what follows from it are one transaction.

    Commands go out in `concurrency` slots, each claimed when a slot is free: an Item Fulfilment,
    invoice or notice that hangs until its deadline holds one slot while the others carry on with
    other shipments. Order needs no batch: a shipment's invoice and notice rows are written only
    when its Item Fulfilment is acknowledged, so they cannot be claimed before it exists.

    Storefront fulfilments have slots of their own (`store_concurrency`), claimed separately: they
    wait on a store's cost bucket, which a small plan or a busy store keeps nearly empty, and must
    not keep Item Fulfilments (which the IMS needs first, and the store's own fulfilments follow)
    waiting behind them.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        config: Callable[[], Config],
        ims: FulfilmentTarget,
        notifier: CustomerNotifier,
        clock: Clock,
        worker_id: str,
        concurrency: int = 4,
        store_concurrency: int = 2,
        rng: random.Random | None = None,
        on_follow_ons: Callable[[], None] | None = None,
        storefronts: Mapping[str, StorefrontFulfilments] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._ims = ims
        self._notifier = notifier
        self._clock = clock
        self._owner = worker_id
        # (slots, the kinds of command they send): each claimed on its own.
        self._lanes = (
            (Slots(concurrency, "fulfilment commands"), IMS_AND_CUSTOMER),
            (Slots(store_concurrency, "storefront fulfilments"), STOREFRONT),
        )
        self._rng = rng or random.Random()
        self._on_follow_ons = on_follow_ons
        self._storefronts = dict(storefronts or {})

    async def run_cycle(self) -> int:
        """Claim as many due commands as there are free slots and start sending them; returns how
        many started. Waits for a free slot, never for the commands themselves."""
        await wait_for_any_free_slot([slots for slots, _ in self._lanes])
        now = self._clock.now()
        lease = now + timedelta(seconds=self._config().engine.lease_s)
        free = [(slots, kinds, slots.free) for slots, kinds in self._lanes if slots.free > 0]

        def claim(connection: Connection) -> list[tuple[Slots, list[FulfilmentTask]]]:
            return [
                (slots, fulfilment_repo.claim(connection, self._owner, now, lease, n, kinds))
                for slots, kinds, n in free
            ]

        started = 0
        for slots, tasks in await in_transaction(self._engine, claim):
            for task in tasks:
                slots.start(self._run(task))
            started += len(tasks)
        return started

    async def aclose(self) -> None:
        """Stop sending (on shutdown): commands cut off keep their lease, which brings them back."""
        for slots, _ in self._lanes:
            await slots.cancel()

    async def _run(self, task: FulfilmentTask) -> None:
        loaded = await in_transaction(self._engine, lambda c: _load(c, task.shipment_id))
        if loaded is None:
            return
        shipment, order = loaded
        failure: ConnectorError | None = None
        try:
            await self._perform(task, shipment, order)
        except RejectedError as exc:
            reason = str(exc)
            if task.kind == FulfilmentCommand.ITEM_FULFILMENT:
                await in_transaction(
                    self._engine, lambda c: self._answered(c, task, created=False, reason=reason)
                )
                return
            failure = exc
        except ConnectorError as exc:
            failure = exc
        if failure is None:
            await in_transaction(self._engine, lambda c: self._answered(c, task, created=True))
            if task.kind == FulfilmentCommand.ITEM_FULFILMENT and self._on_follow_ons is not None:
                # Its invoice and notice are due now; the loop may be idle, waiting for a wake.
                self._on_follow_ons()
        else:
            await in_transaction(self._engine, lambda c: self._failed(c, task, failure))

    async def _perform(self, task: FulfilmentTask, shipment: ShipmentRecord, order: OrderRecord) -> None:
        config = self._config()
        lines = shipment.fulfil_lines or {}
        s = shipment.shipment
        if task.kind == FulfilmentCommand.ITEM_FULFILMENT:
            location = config.ims_location_of(config.order_warehouse()) or ""
            await self._ims.item_fulfilment(
                order.order.ims_id,
                if_external_id(s.shipment_id),
                lines,
                order_lines=[line.line for line in order.order.lines],
                location_id=location,
                carrier=s.carrier,
                tracking_numbers=s.tracking_numbers,
            )
        elif task.kind == FulfilmentCommand.STORE_FULFILMENT:
            await self._tell_store(shipment, order)
        elif task.kind == FulfilmentCommand.INVOICE:
            await self._ims.invoice(order.order.ims_id, invoice_external_id(s.shipment_id), lines)
        else:
            address = order.order.address
            notice = ShipmentNotice(
                reference=s.reference,
                shipment_id=s.shipment_id,
                recipient=order.order.email,
                name=address.name if address else "",
                carrier=s.carrier,
                service=s.service,
                tracking_numbers=s.tracking_numbers,
            )
            await self._notifier.shipment_sent(notice)

    async def _tell_store(self, shipment: ShipmentRecord, order: OrderRecord) -> None:
        """The shipment as one fulfilment in its storefront, on the line items its order lines came
        from, with its tracking; the store tells the customer (decision 0023)."""
        reference = shipment.shipment.reference
        routed = await in_transaction(
            self._engine, lambda c: storefront_repo.routed_by_reference(c, reference)
        )
        if routed is not None:  # route ims: the IMS order's lines came from these line items
            channel, order_id = routed.order.channel, routed.order.order_id
            line_items: dict[int, str] | None = ims_line_items(routed.ims_lines)
        elif order.channel != "ims":  # route clarus: the hub numbered the store's line items
            channel, order_id = order.channel, order.order.ims_id.removeprefix(f"{order.channel}:")
            line_items = None
        else:
            raise RejectedError("hub", f"order {reference} came from no storefront")
        store = self._storefronts.get(channel)
        if store is None:
            raise RejectedError("hub", f"no storefront named {channel!r} is configured")
        if line_items is None:
            ids = await store.line_item_ids(order_id)
            if ids is None:
                raise RejectedError(channel, f"order {order_id} ({reference}) is not in the store")
            line_items = direct_line_items(ids)
        try:
            lines = storefront_lines(shipment.fulfil_lines or {}, line_items)
        except RollupError as exc:
            raise RejectedError("hub", f"shipment {shipment.shipment.shipment_id}: {exc}") from None
        await store.fulfil(order_id, lines, tracking_of(shipment.shipment), notify_customer=True)

    def _answered(
        self, connection: Connection, task: FulfilmentTask, created: bool, reason: str = ""
    ) -> None:
        now = self._clock.now()
        if not fulfilment_repo.done(connection, task, self._owner, now):
            return
        folder = FulfilmentFolder(connection, self._config(), now)
        if task.kind == FulfilmentCommand.ITEM_FULFILMENT:
            folder.item_fulfilment_answered(task.shipment_id, created, reason)
        elif task.kind == FulfilmentCommand.STORE_FULFILMENT:
            folder.store_fulfilment_answered(task.shipment_id)
        else:
            bump(connection, f"fulfilment.{task.kind.value}")
        # A replayed dead letter went through: its exception is over.
        resolve_exceptions(connection, fulfilment_failure_type(task.kind), [f"shipment:{task.shipment_id}"])

    def _failed(self, connection: Connection, task: FulfilmentTask, failure: ConnectorError) -> None:
        config = self._config()
        now = self._clock.now()
        attempt = task.attempts + 1
        since = task.failing_since or now
        retry_at = (
            next_attempt_at(
                config.engine,
                attempt,
                now,
                failing_since=since,
                retry_after=failure.retry_after,
                rng=self._rng,
            )
            if isinstance(failure, RetriableError)
            else None
        )
        fulfilment_repo.failed(connection, task, self._owner, str(failure), retry_at, since)
        attempt_failed(
            log,
            work=task.kind.value,
            entity=task.shipment_id,
            attempt=attempt,
            error=str(failure),
            retry_at=retry_at,
        )
        if retry_at is None:
            kind = fulfilment_failure_type(task.kind)
            raise_exception(
                connection,
                type=kind,
                entity=f"shipment:{task.shipment_id}",
                owner=config.owners.owner_of(kind),
                detail=f"{task.kind.value} dead-lettered after {attempt} attempts since "
                f"{since:%Y-%m-%d %H:%M:%S} UTC: {failure}",
                now=now,
                retry_action=replay_action(Outbox.FULFILMENT, task.id),
            )


def _load(connection: Connection, shipment_id: str) -> tuple[ShipmentRecord, OrderRecord] | None:
    shipment = fulfilment_repo.get_shipment(connection, shipment_id)
    if shipment is None:
        return None
    order = orders_repo.get_order(connection, reference=shipment.shipment.reference)
    return None if order is None else (shipment, order)


async def verify_tracking(engine: Engine, ims: FulfilmentTarget, config: Config, clock: Clock) -> int:
    """Read back the tracking numbers of recent Item Fulfilments; a difference from what the
    warehouse shipped is `tracking_drift` (the customer would be given the wrong parcel)."""
    since = clock.now() - timedelta(seconds=config.fulfilment.verify_window_s)
    recent = await in_transaction(engine, lambda c: fulfilment_repo.fulfilled_since(c, since))
    drifted: list[tuple[str, list[str], list[str]]] = []
    for record in recent:
        shipped = sorted(record.shipment.tracking_numbers)
        external_id = if_external_id(record.shipment.shipment_id)
        shown = await ims.tracking_numbers(external_id)
        if shown is not None and sorted(shown) != shipped:
            drifted.append((record.shipment.shipment_id, shipped, sorted(shown)))
    now = clock.now()

    def record_drift(connection: Connection) -> None:
        for shipment_id, shipped, shown in drifted:
            raise_exception(
                connection,
                type="tracking_drift",
                entity=f"shipment:{shipment_id}",
                owner=config.owners.owner_of("tracking_drift"),
                detail=f"the warehouse shipped {shipped}, the IMS shows {shown}",
                now=now,
            )
        clean = {r.shipment.shipment_id for r in recent} - {d[0] for d in drifted}
        resolve_exceptions(connection, "tracking_drift", [f"shipment:{s}" for s in clean])

    await in_transaction(engine, record_drift)
    return len(drifted)
