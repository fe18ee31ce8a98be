"""Fulfilment flow, fold side: shipments → Item Fulfilment commands → follow-ons (notify, invoice).

A follow-on is written only by the acknowledgement of its Item Fulfilment, in the same transaction,
so nobody hears of a shipment the IMS does not yet show (DESIGN.md section 3, fulfilment).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.bundles import KitError, dekit
from stockbridge.domain.fulfilment import RollupError, Shipment, to_fulfil_now
from stockbridge.domain.fulfilment_state import (
    FulfilmentCommand,
    ShipmentState,
    on_item_fulfilment,
    on_shipment,
    on_store_fulfilment,
)
from stockbridge.domain.order_state import CANCELLED_AFTER_DESPATCH, OrderState
from stockbridge.domain.orders import CANCELLED
from stockbridge.domain.skus import normalise
from stockbridge.flows.demand import DemandWatch
from stockbridge.store import fulfilment_repo, items_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.fulfilment_repo import ShipmentRecord
from stockbridge.store.orders_repo import OrderRecord

EVALUATED = (
    ShipmentState.IF_PENDING,
    ShipmentState.FULFILLED,
    ShipmentState.PART_BUNDLE,
    ShipmentState.STORE_PENDING,
    ShipmentState.STORE_FULFILLED,
)


class FulfilmentFolder:
    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self.connection = connection
        self.config = config
        self.now = now

    def fold_shipment(self, shipment: Shipment) -> None:
        if not fulfilment_repo.add_shipment(self.connection, shipment, self.now):
            bump(self.connection, "fulfilment.duplicate_shipments")
            return
        bump(self.connection, "fulfilment.shipments")
        record = fulfilment_repo.get_shipment(self.connection, shipment.shipment_id)
        assert record is not None
        self.evaluate(record, newly_arrived=True)

    def evaluate(self, record: ShipmentRecord, newly_arrived: bool = False) -> None:
        """Decide a shipment that is new or parked: park it, or fulfil the order lines it completes."""
        shipment = record.shipment
        order = orders_repo.get_order(self.connection, reference=shipment.reference, lock=True)
        if order is None or order.sent is None:
            return  # stays parked: the order arrives later (or was never released)
        sent = order.sent
        if order.wms_status is None:
            # The warehouse despatched an order whose status reports all came before the hub knew
            # it (a shipment parked for it): it is past allocation, so its claim on the storefronts'
            # figures ends (decision 0022). A later status report replaces this one.
            order = replace(order, wms_status="partially_despatched")
            orders_repo.save_order(self.connection, order, self.now)
            DemandWatch(self.connection, self.config, self.now).changed(order)
        # A storefront order sent straight to Clarus has no IMS order to fulfil: its despatches go
        # back to the store as storefront fulfilments, never to an Item Fulfilment (decision 0023).
        direct = order.channel != "ims"
        lines: dict[int, int] | None = None
        if order.order.status == CANCELLED:
            decision = on_shipment(True, 0, order_cancelled=True)
            self._cancelled_after_despatch(shipment)
        else:
            before = [
                s.shipment
                for s in fulfilment_repo.shipments_of(self.connection, shipment.reference)
                if s.state in EVALUATED and s.shipment.shipment_id != shipment.shipment_id
            ]
            try:
                lines = to_fulfil_now(sent, before, shipment, self._per_bundle(order))
            except RollupError as exc:
                fulfilment_repo.set_state(
                    self.connection, shipment.shipment_id, ShipmentState.REJECTED, self.now
                )
                self._raise("over_fulfilment", shipment, str(exc))
                return
            decision = on_shipment(True, len(lines), storefront_direct=direct)
        if direct:
            bump(self.connection, "fulfilment.storefront_direct")
        fulfilment_repo.set_state(self.connection, shipment.shipment_id, decision.state, self.now, lines)
        fulfilment_repo.add_commands(self.connection, shipment.shipment_id, decision.commands, self.now)
        if not newly_arrived:
            bump(self.connection, "fulfilment.released_from_parking")
            resolve_exceptions(
                self.connection, "fulfilment_waiting_for_order", [f"shipment:{shipment.shipment_id}"]
            )

    def _per_bundle(self, order: OrderRecord) -> dict[int, dict[str, int]]:
        """Component quantities of ONE bundle, by warehouse SKU, for each bundle line of the order."""
        kits = items_repo.load_kits(self.connection)
        rules = self.config.sku_rules.rules()
        per: dict[int, dict[str, int]] = {}
        for line in order.order.lines:
            if line.sku not in kits:
                continue
            try:
                parts = dekit(line.sku, 1, kits)
            except KitError:
                continue
            merged: Counter[str] = Counter()
            for sku, qty in parts:
                merged[normalise(sku, rules)] += qty
            per[line.line] = dict(merged)
        return per

    def unpark(self, reference: str) -> None:
        for record in fulfilment_repo.shipments_of(self.connection, reference):
            if record.state == ShipmentState.PARKED:
                self.evaluate(record)

    def item_fulfilment_answered(self, shipment_id: str, created: bool, reason: str = "") -> None:
        record = fulfilment_repo.get_shipment(self.connection, shipment_id)
        if record is None:
            return
        order = orders_repo.get_order(self.connection, reference=record.shipment.reference)
        cancelled = order is not None and order.order.status == CANCELLED
        storefront = storefront_repo.routed_by_reference(self.connection, record.shipment.reference)
        decision = on_item_fulfilment(
            record.state,
            created,
            self.config.fulfilment.bill_on_fulfilment,
            order_cancelled=cancelled,
            storefront=storefront is not None,
        )
        fulfilment_repo.set_state(self.connection, shipment_id, decision.state, self.now)
        fulfilment_repo.add_commands(self.connection, shipment_id, decision.commands, self.now)
        resolve_exceptions(self.connection, "fulfilment_stalled", [f"shipment:{shipment_id}"])
        if created:
            bump(self.connection, "fulfilment.item_fulfilments")
        elif decision.state == ShipmentState.ORDER_CANCELLED:
            self._cancelled_after_despatch(record.shipment)
        else:
            self._raise("over_fulfilment", record.shipment, f"the IMS refused the Item Fulfilment: {reason}")

    def store_fulfilment_answered(self, shipment_id: str) -> None:
        """The store has the shipment's fulfilment (and has told the customer)."""
        record = fulfilment_repo.get_shipment(self.connection, shipment_id)
        if record is None:
            return
        decision = on_store_fulfilment(record.state)
        if decision.state != record.state:
            fulfilment_repo.set_state(self.connection, shipment_id, decision.state, self.now)
        resolve_exceptions(self.connection, "fulfilment_stalled", [f"shipment:{shipment_id}"])
        bump(self.connection, "fulfilment.store_fulfilments")

    def order_cancelled(self, reference: str) -> None:
        """The hub has just learned that an order it saw despatched is cancelled in the IMS: Item
        Fulfilments the IMS refused for it were refused for that, not for over-fulfilment."""
        refused = [
            record.shipment
            for record in fulfilment_repo.shipments_of(self.connection, reference)
            if record.state == ShipmentState.REJECTED
        ]
        for shipment in refused:
            fulfilment_repo.set_state(
                self.connection, shipment.shipment_id, ShipmentState.ORDER_CANCELLED, self.now
            )
            self._cancelled_after_despatch(shipment)
        resolve_exceptions(self.connection, "over_fulfilment", [f"shipment:{s.shipment_id}" for s in refused])

    def _cancelled_after_despatch(self, shipment: Shipment) -> None:
        """One exception per order (entity `order:`), as the order flow raises it; the newest parcel
        is named in the detail."""
        tracking = ", ".join(shipment.tracking_numbers) or "no tracking number"
        raise_exception(
            self.connection,
            type=CANCELLED_AFTER_DESPATCH.code,
            entity=f"order:{shipment.reference}",
            owner=self.config.owners.owner_of(CANCELLED_AFTER_DESPATCH.code),
            detail=f"shipment {shipment.shipment_id} ({shipment.carrier} {tracking}) left the warehouse "
            f"for order {shipment.reference}, which is cancelled in the IMS: recall or return the "
            "goods, refund the customer (docs/operating.md)",
            now=self.now,
        )

    def check(self) -> None:
        """Parked too long, or fulfilment not created in time: an owner must look. Parked shipments
        whose order has arrived meanwhile are released here too."""
        settings = self.config.fulfilment
        for record in fulfilment_repo.shipments_in(self.connection, [ShipmentState.PARKED]):
            self.evaluate(record)
        waited = self.now - timedelta(seconds=settings.park_alert_after_s)
        for record in fulfilment_repo.shipments_in(self.connection, [ShipmentState.PARKED]):
            if record.state_since < waited:
                self._raise(
                    "fulfilment_waiting_for_order",
                    record.shipment,
                    f"since {record.state_since:%Y-%m-%d %H:%M}, order {record.shipment.reference} unknown",
                )
        stalled = self.now - timedelta(seconds=settings.stall_after_s)
        for record in fulfilment_repo.shipments_in(self.connection, [ShipmentState.IF_PENDING]):
            if record.state_since < stalled:
                self._raise(
                    "fulfilment_stalled", record.shipment, "shipped, but no Item Fulfilment in the IMS yet"
                )
        for record in fulfilment_repo.shipments_in(self.connection, [ShipmentState.STORE_PENDING]):
            if record.state_since < stalled:
                self._raise(
                    "fulfilment_stalled", record.shipment, "shipped, but no fulfilment in the store yet"
                )
        # Route ims: the store's fulfilment follows the Item Fulfilment (the shipment is then
        # `fulfilled`), so its wait counts from when the follow-on was written.
        store = FulfilmentCommand.STORE_FULFILMENT
        for record in fulfilment_repo.awaiting_command(self.connection, store, stalled):
            if record.state == ShipmentState.FULFILLED:
                self._raise(
                    "fulfilment_stalled",
                    record.shipment,
                    "shipped and in the IMS, but no fulfilment in the store yet",
                )

    def check_statuses(self) -> None:
        """The reviewed status table (`fulfilment.status_map`): once every shipment of an order has its
        Item Fulfilment and the hub has read the order since, the IMS should show the mapped status."""
        settings = self.config.fulfilment
        settled_before = self.now - timedelta(seconds=settings.stall_after_s)
        for record in orders_repo.orders_in(self.connection, [OrderState.COMPLETE, OrderState.LOCKED]):
            expected = settings.status_map.get(record.wms_status or "")
            if expected is None or record.state_since > settled_before or record.channel != "ims":
                continue
            shipped = fulfilment_repo.shipments_of(self.connection, record.order.reference)
            if any(s.state in (ShipmentState.PARKED, ShipmentState.IF_PENDING) for s in shipped):
                continue
            entity = f"order:{record.order.reference}"
            if record.order.status != expected:
                raise_exception(
                    self.connection,
                    type="status_drift",
                    entity=entity,
                    owner=self.config.owners.owner_of("status_drift"),
                    detail=f"Clarus says {record.wms_status}, so the IMS should show {expected}; "
                    f"it shows {record.order.status}",
                    now=self.now,
                )
            else:
                resolve_exceptions(self.connection, "status_drift", [entity])

    def _raise(self, kind: str, shipment: Shipment, detail: str) -> None:
        raise_exception(
            self.connection,
            type=kind,
            entity=f"shipment:{shipment.shipment_id}",
            owner=self.config.owners.owner_of(kind),
            detail=detail,
            now=self.now,
        )
