"""Fulfilment flow, I/O side: Item Fulfilments and invoices to the IMS, notices to customers, and
storefront fulfilments (with tracking) to the store an order came from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Unpack

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.errors import RejectedError
from stockbridge.domain.fulfilment import RollupError, ShipmentNotice
from stockbridge.domain.fulfilment_state import FulfilmentCommand
from stockbridge.domain.storefront_fulfilment import (
    direct_line_items,
    ims_line_items,
    storefront_lines,
    tracking_of,
)
from stockbridge.engine.bounded import Slots
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.flows.edge_ports import CustomerNotifier, FulfilmentTarget, StorefrontFulfilments
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.flows.outbox_sender import Claim, OutboxSender, Sending
from stockbridge.store import fulfilment_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.dead_letters import Outbox, fulfilment_failure_type
from stockbridge.store.fulfilment_repo import FulfilmentTask, ShipmentRecord
from stockbridge.store.orders_repo import OrderRecord

STOREFRONT = (FulfilmentCommand.STORE_FULFILMENT,)
IMS_AND_CUSTOMER = tuple(kind for kind in FulfilmentCommand if kind not in STOREFRONT)


def if_external_id(shipment_id: str) -> str:
    return f"sb-if-{shipment_id}"


def invoice_external_id(shipment_id: str) -> str:
    return f"sb-inv-{shipment_id}"


@dataclass(frozen=True)
class FulfilmentAnswer:
    """What a sent fulfilment command answers: only an Item Fulfilment can be refused (`created`
    False) and still be answered; every other refusal is a failure."""

    created: bool
    reason: str = ""


class FulfilmentSender(OutboxSender[FulfilmentTask, FulfilmentAnswer]):
    """Sends outboxed fulfilment commands: Item Fulfilments and invoices to the IMS, notices to
    customers, storefront fulfilments to stores. A command's answer and what follows from it are
    one transaction.

    Commands go out in `concurrency` slots (`OutboxSender`): an Item Fulfilment, invoice or notice
    that hangs until its deadline holds one slot while the others carry on with other shipments.
    Order needs no batch: a shipment's invoice and notice rows are written only when its Item
    Fulfilment is acknowledged, so they cannot be claimed before it exists.

    Storefront fulfilments have slots of their own (`store_concurrency`), claimed separately: they
    wait on a store's cost bucket, which a small plan or a busy store keeps nearly empty, and must
    not keep Item Fulfilments (which the IMS needs first, and the store's own fulfilments follow)
    waiting behind them.
    """

    outbox = Outbox.FULFILMENT

    def __init__(
        self,
        *,
        ims: FulfilmentTarget,
        notifier: CustomerNotifier,
        concurrency: int = 4,
        store_concurrency: int = 2,
        on_follow_ons: Callable[[], None] | None = None,
        storefronts: Mapping[str, StorefrontFulfilments] | None = None,
        **sending: Unpack[Sending],
    ) -> None:
        super().__init__(
            lanes=[
                (Slots(concurrency, "fulfilment commands"), _claim(IMS_AND_CUSTOMER)),
                (Slots(store_concurrency, "storefront fulfilments"), _claim(STOREFRONT)),
            ],
            finish=fulfilment_repo.done,
            record_failure=fulfilment_repo.failed,
            **sending,
        )
        self._ims = ims
        self._notifier = notifier
        self._on_follow_ons = on_follow_ons
        self._storefronts = dict(storefronts or {})

    async def send(self, command: FulfilmentTask) -> FulfilmentAnswer:
        """Send the command; an Item Fulfilment the IMS refuses is an answer (`created` False: the
        shipment is rejected with an exception), not a failure to retry."""
        loaded = await in_transaction(self._engine, lambda c: _load(c, command.shipment_id))
        if loaded is None:  # cannot happen: commands are written for known shipments of known orders
            raise RejectedError("hub", f"shipment {command.shipment_id} or its order is not in the store")
        shipment, order = loaded
        try:
            await self._perform(command, shipment, order)
        except RejectedError as exc:
            if command.kind != FulfilmentCommand.ITEM_FULFILMENT:
                raise
            return FulfilmentAnswer(created=False, reason=str(exc))
        return FulfilmentAnswer(created=True)

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

    def answered(
        self, connection: Connection, command: FulfilmentTask, answer: FulfilmentAnswer, now: datetime
    ) -> None:
        folder = FulfilmentFolder(connection, self._config(), now)
        if command.kind == FulfilmentCommand.ITEM_FULFILMENT:
            folder.item_fulfilment_answered(command.shipment_id, answer.created, answer.reason)
        elif command.kind == FulfilmentCommand.STORE_FULFILMENT:
            folder.store_fulfilment_answered(command.shipment_id)
        else:
            bump(connection, f"fulfilment.{command.kind.value}")

    def after_answer(self, command: FulfilmentTask, answer: FulfilmentAnswer) -> None:
        if command.kind == FulfilmentCommand.ITEM_FULFILMENT and answer.created and self._on_follow_ons:
            # Its invoice and notice are due now; the loop may be idle, waiting for a wake.
            self._on_follow_ons()

    def exception_of(self, command: FulfilmentTask) -> tuple[str, str]:
        return fulfilment_failure_type(command.kind), f"shipment:{command.shipment_id}"

    def work_of(self, command: FulfilmentTask) -> tuple[str, str]:
        return command.kind.value, command.shipment_id


def _claim(kinds: tuple[FulfilmentCommand, ...]) -> Claim[FulfilmentTask]:
    def claim(
        connection: Connection, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[FulfilmentTask]:
        return fulfilment_repo.claim(connection, owner, now, lease_until, limit, kinds)

    return claim


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
