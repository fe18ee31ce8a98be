"""Order flow, fold side: IMS order versions and warehouse statuses → decisions → command outbox.

Everything here runs inside one database transaction: the new state, its exceptions and the command
it causes are written together (DESIGN.md section 2, transactional outbox).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.demand import CLAIMING_STATES
from stockbridge.domain.fulfilment import Shipment
from stockbridge.domain.inbound import (
    SALES_ORDER,
    SHIPMENT_DESPATCHED,
    WAREHOUSE_ORDER_KINDS,
    UnusableEvent,
    WarehouseOrderStatus,
)
from stockbridge.domain.order_state import (
    CANCELLED_AFTER_DESPATCH,
    NEVER_SENT,
    CommandKind,
    Decision,
    OrderState,
    Outcome,
    after_command,
    after_warehouse_status,
    decide,
)
from stockbridge.domain.orders import (
    CANCELLED,
    HoldReason,
    ItemInfo,
    OrderContext,
    SalesOrder,
    WmsOrder,
    is_newer,
    prepare,
)
from stockbridge.flows.demand import DemandWatch
from stockbridge.flows.edge_ports import InboundFormats
from stockbridge.flows.fulfilment import FulfilmentFolder
from stockbridge.logs import get_logger
from stockbridge.store import fulfilment_repo, items_repo, orders_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.orders_repo import OrderCommand, OrderRecord

log = get_logger(__name__)

HOLD_CODES = (
    "unknown_item",
    "inactive_item",
    "invalid_sku",
    "sku_collision",
    "unknown_in_wms",
    "inactive_in_wms",
    "bad_kit",
    "unmapped_ship_method",
    "incomplete_address",
    "rejected_by_wms",
)


_DONE_COUNTER = {
    CommandKind.CREATE: "orders.created",
    CommandKind.AMEND: "orders.amended",
    CommandKind.CANCEL: "orders.cancelled",
}


# What an operator reads when the warehouse answers a command (the event of the log line).
_ANSWERED = {
    (CommandKind.CREATE, Outcome.DONE): "order sent to the warehouse",
    (CommandKind.AMEND, Outcome.DONE): "order amended at the warehouse",
    (CommandKind.CANCEL, Outcome.DONE): "order cancelled at the warehouse",
}


def entity(reference: str) -> str:
    return f"order:{reference}"


def load_context(connection: Connection, config: Config) -> OrderContext:
    """The catalogs and rules the pipeline checks an order against, as the hub last read them."""
    items = items_repo.all_items(connection)
    return OrderContext(
        warehouse_id=config.order_warehouse(),
        ims_items={i.sku: ItemInfo(not i.is_inactive, i.item_type == "Kit") for i in items},
        wms_items=items_repo.wms_catalog(connection),
        kits=items_repo.load_kits(connection),
        sku_rules=config.sku_rules.rules(),
        ship_methods=dict(config.orders.ship_methods),
        release_statuses=frozenset(config.orders.release_statuses),
    )


class OrderFolder:
    """Applies decisions to stored orders. One instance per transaction (it caches the context)."""

    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self.connection = connection
        self.config = config
        self.now = now
        self._context: OrderContext | None = None
        self.demand = DemandWatch(connection, config, now)

    @property
    def context(self) -> OrderContext:
        if self._context is None:
            self._context = load_context(self.connection, self.config)
        return self._context

    def fold_sales_order(self, order: SalesOrder, channel: str = "ims", version: str | None = None) -> None:
        """Fold a version of an order: the IMS's, or a storefront's sent straight to Clarus (`channel`
        names the storefront; its order's status is its financial status, or CANCELLED; `version`
        the storefront's, judged newer by its own rule first)."""
        version = version or orders_repo.order_version(order)
        record = orders_repo.get_order(self.connection, ims_id=order.ims_id, lock=True)
        if record is not None and not is_newer(version, record.ims_version):
            bump(self.connection, "orders.versions_ignored")
            return
        if record is None:
            record = OrderRecord(order, version, OrderState.WAITING, (), None, None, None, self.now, channel)
        else:
            record = replace(record, order=order, ims_version=version)
        self.redecide(record)

    def redecide(self, record: OrderRecord) -> OrderRecord:
        requested = self._as_requested_by_hand(record.order) if record.channel == "ims" else record.order
        prepared = prepare(requested, self.context)
        decision = decide(
            record.state,
            requested,
            prepared,
            record.sent,
            self._release_statuses(record.channel),
            wms_status=record.wms_status,
        )
        return self.apply(record, decision, prepared)

    def _release_statuses(self, channel: str) -> frozenset[str]:
        """IMS orders go at the IMS statuses configured; a storefront's at its financial statuses."""
        store = self.config.storefronts.get(channel)
        return self.context.release_statuses if store is None else store.releasing_statuses

    def _as_requested_by_hand(self, order: SalesOrder) -> SalesOrder:
        """The order with only the fulfilments made by hand in the IMS counted as fulfilled: what the
        hub's own Item Fulfilments cover is what the warehouse shipped, not a change to its request."""
        by_hub = fulfilment_repo.fulfilled_by_hub(self.connection, order.reference)
        if not by_hub:
            return order
        lines = tuple(
            replace(line, quantity_fulfilled=max(0, line.quantity_fulfilled - by_hub.get(line.line, 0)))
            for line in order.lines
        )
        return replace(order, lines=lines)

    def apply(
        self, record: OrderRecord, decision: Decision, prepared: WmsOrder | list[HoldReason] | None = None
    ) -> OrderRecord:
        reference = record.order.reference
        holds = decision.holds if decision.state == OrderState.HELD else ()
        updated = replace(
            record,
            state=decision.state,
            holds=holds,
            state_since=self.now if decision.state != record.state else record.state_since,
        )
        orders_repo.save_order(self.connection, updated, self.now)
        self._sync_hold_exceptions(reference, record.holds, holds)
        codes = sorted({h.code for h in holds})
        if holds and (record.state != OrderState.HELD or codes != sorted({h.code for h in record.holds})):
            log.info("order held", reference=reference, reasons=codes)
        elif record.state == OrderState.HELD and decision.state != OrderState.HELD:
            log.info("order no longer held", reference=reference, state=decision.state.value)
        if decision.problem is not None:
            self._raise(decision.problem, reference)
        if decision.state == OrderState.DESPATCHED_CANCELLED and record.state != decision.state:
            FulfilmentFolder(self.connection, self.config, self.now).order_cancelled(reference)
        if decision.command is not None:
            payload = prepared if isinstance(prepared, WmsOrder) else None
            orders_repo.add_command(
                self.connection, record.order.ims_id, decision.command, payload, reference, self.now
            )
            bump(self.connection, f"orders.commands.{decision.command.value}")
            log.debug("order command queued", reference=reference, command=decision.command.value)
        if record.state in CLAIMING_STATES or updated.state in CLAIMING_STATES:
            queued = prepared if decision.command is not None and isinstance(prepared, WmsOrder) else None
            self.demand.changed(updated, queued)
        return updated

    def _sync_hold_exceptions(
        self, reference: str, before: Sequence[HoldReason], after: Sequence[HoldReason]
    ) -> None:
        for hold in after:
            self._raise(hold, reference, retry=f"stockbridge orders release {reference}")
        cleared = {h.code for h in before} - {h.code for h in after}
        for code in cleared:
            resolve_exceptions(self.connection, code, [entity(reference)])

    def _raise(self, reason: HoldReason, reference: str, retry: str | None = None) -> None:
        raise_exception(
            self.connection,
            type=reason.code,
            entity=entity(reference),
            owner=self.config.owners.owner_of(reason.code),
            detail=reason.detail,
            now=self.now,
            retry_action=retry,
        )

    def fold_warehouse_status(self, data: WarehouseOrderStatus) -> None:
        record = orders_repo.get_order(self.connection, reference=data.reference, lock=True)
        if record is None:
            bump(self.connection, "orders.unknown_wms_status")
            return
        if record.wms_sequence is not None and data.sequence <= record.wms_sequence:
            return
        state = after_warehouse_status(record.state, data.status, record.order.status == CANCELLED)
        seen = replace(record, wms_status=data.status, wms_sequence=data.sequence)
        if state == OrderState.DESPATCHED_CANCELLED:
            seen = self.apply(seen, Decision(state, problem=CANCELLED_AFTER_DESPATCH))
        else:
            since = self.now if state != record.state else record.state_since
            seen = replace(seen, state=state, state_since=since)
            orders_repo.save_order(self.connection, seen, self.now)
        self.demand.changed(seen)  # allocated or cancelled at the warehouse: units released

    def command_answered(self, command: OrderCommand, outcome: Outcome, reason: str) -> None:
        """The warehouse answered for good: move on, then decide again on the newest IMS version."""
        with self.demand.deferred():
            self._command_answered(command, outcome, reason)

    def _command_answered(self, command: OrderCommand, outcome: Outcome, reason: str) -> None:
        record = orders_repo.get_order(self.connection, ims_id=command.ims_id, lock=True)
        if record is None:
            return
        decision = after_command(command.kind, outcome, reason)
        sent = record.sent
        if outcome == Outcome.DONE and command.kind in (CommandKind.CREATE, CommandKind.AMEND):
            sent = command.order
        record = self.apply(replace(record, sent=sent), decision)
        if outcome == Outcome.DONE:
            bump(self.connection, _DONE_COUNTER[command.kind])
        log.info(
            _ANSWERED.get((command.kind, outcome), "order command refused"),
            reference=command.reference,
            command=command.kind.value,
            outcome=outcome.value,
            state=record.state.value,
        )
        if record.state not in NEVER_SENT:
            self.redecide(record)
        if outcome == Outcome.DONE and command.kind == CommandKind.CREATE:
            # Shipments that arrived before the order was known can be fulfilled now.
            FulfilmentFolder(self.connection, self.config, self.now).unpark(record.order.reference)

    def release(self, reference: str) -> OrderRecord | None:
        """Check a held (or waiting) order again now."""
        record = orders_repo.get_order(self.connection, reference=reference, lock=True)
        if record is None:
            return None
        with self.demand.deferred():
            return self.redecide(record)

    def revalidate_held(self) -> int:
        released = 0
        with self.demand.deferred():
            for record in orders_repo.orders_in(self.connection, [OrderState.HELD, OrderState.WAITING]):
                if self.redecide(record).state not in (OrderState.HELD, OrderState.WAITING):
                    released += 1
        return released

    def check_stalled(self) -> None:
        """Released but not acknowledged in time, or held too long: an owner must look."""
        orders = self.config.orders
        stalled_before = self.now - timedelta(seconds=orders.stall_after_s)
        for record in orders_repo.orders_in(self.connection, [OrderState.RELEASE_PENDING]):
            if record.state_since < stalled_before:
                self._raise(
                    HoldReason(
                        "order_stalled",
                        f"sent to the warehouse at {record.state_since:%H:%M}, not acknowledged",
                    ),
                    record.order.reference,
                )
        held_before = self.now - timedelta(seconds=orders.held_alert_after_s)
        for record in orders_repo.orders_in(self.connection, [OrderState.HELD]):
            if record.state_since < held_before:
                reasons = "; ".join(h.detail for h in record.holds)
                self._raise(
                    HoldReason(
                        "order_held_too_long", f"held since {record.state_since:%Y-%m-%d %H:%M}: {reasons}"
                    ),
                    record.order.reference,
                    retry=f"stockbridge orders release {record.order.reference}",
                )


OrderEntry = SalesOrder | WarehouseOrderStatus | Shipment


def parse_order_entry(kind: str, payload: str, formats: InboundFormats) -> OrderEntry:
    """An inbox entry of the order flow, parsed; `UnusableEvent` says why it cannot be folded.

    A sales order version is the hub's own JSON (stored by `order_sync`); the warehouse's events are
    read by its connector."""
    if kind == SALES_ORDER:
        try:
            return orders_repo.sales_order_from_json(json.loads(payload))
        except (ValueError, KeyError, TypeError) as exc:
            raise UnusableEvent(f"sales order: {type(exc).__name__}: {exc}") from None
    if kind in WAREHOUSE_ORDER_KINDS:
        return formats.order_status(payload)
    if kind == SHIPMENT_DESPATCHED:
        return formats.shipment(payload)
    raise UnusableEvent(f"kind: the order flow does not fold {kind!r}")


def fold_orders(
    connection: Connection,
    entries: Sequence[OrderEntry],
    config: Config,
    now: datetime,
    *,
    rederive: bool = True,
) -> set[tuple[str, str]]:
    """Fold parsed entries of the order flow, in arrival order. Returns the (SKU, warehouse) pairs
    whose open demand moved; with `rederive=False` the caller re-derives their targets itself."""
    folder = OrderFolder(connection, config, now)
    with folder.demand.deferred():
        for entry in entries:
            if isinstance(entry, SalesOrder):
                folder.fold_sales_order(entry)
            elif isinstance(entry, WarehouseOrderStatus):
                folder.fold_warehouse_status(entry)
            else:
                FulfilmentFolder(connection, config, now).fold_shipment(entry)
        moved = set(folder.demand.moved) if rederive else folder.demand.take_moved()
    return moved
