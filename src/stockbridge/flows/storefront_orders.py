"""Storefront orders, fold side: each version of a store's order folded by its route.

- route `clarus`: into the warehouse order state machine beside IMS orders (`OrderFolder`), under
  the key `<channel>:<order id>` and the reference prefix + order number;
- route `ims`: into `storefront_orders`, with a command to make the IMS sales order match
  (`flows/storefront_sync.py` sends it); the IMS flow carries that order on to Clarus.

An older version never overwrites a newer one (`updated_at`, to the second). Within one second,
arrival order says nothing (decision 0024): a version read from the store after that second beats a
webhook's copy, and two webhook copies with other content are a tie: the hub keeps the one it has
and asks for one re-read of the order from the store (`flows/storefront_sync.py`), whose answer
settles it. An `orders/edited` notice carries no order: it makes the catch-up query run now. Runs
inside the fold's transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config, Storefront
from stockbridge.domain.inbound import (
    STOREFRONT_ORDER,
    STOREFRONT_ORDER_EDITED,
    STOREFRONT_ORDER_VERSION,
    StorefrontOrderChanged,
    StorefrontOrderRead,
    UnusableEvent,
)
from stockbridge.domain.orders import HoldReason
from stockbridge.domain.storefront_orders import StorefrontOrder
from stockbridge.domain.storefront_routing import (
    STAMP_SETTLED,
    ImsItemRef,
    RoutedState,
    Verdict,
    as_hub_sales_order,
    compare_versions,
    decide_ims_route,
    hub_order_id,
    ims_order_request,
    ims_status,
    read_version,
    same_content,
    storefront_reference,
    storefront_version,
)
from stockbridge.engine.schedule import run_at, run_soon
from stockbridge.flows.edge_ports import StorefrontFormats
from stockbridge.flows.orders import OrderFolder, entity
from stockbridge.logs import get_logger
from stockbridge.store import items_repo, orders_repo, storefront_repo
from stockbridge.store.bookkeeping import bump, raise_exception, resolve_exceptions
from stockbridge.store.inbox_repo import InboxEntry
from stockbridge.store.storefront_repo import RoutedOrder

log = get_logger(__name__)

CATCH_UP_JOB = "storefront_orders_poll"
REREAD_JOB = "storefront_order_rereads"

StorefrontEntry = StorefrontOrder | StorefrontOrderRead | StorefrontOrderChanged


def parse_storefront_entry(entry: InboxEntry, readers: Mapping[str, StorefrontFormats]) -> StorefrontEntry:
    """An inbox entry of a storefront (its source is the channel); `UnusableEvent` says why not."""
    if entry.kind == STOREFRONT_ORDER_VERSION:
        try:
            data = json.loads(entry.payload)
            order = storefront_repo.storefront_order_from_json(data)
            read_at = storefront_repo.read_at_from_json(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UnusableEvent(f"storefront order: {type(exc).__name__}: {exc}") from None
        return order if read_at is None else StorefrontOrderRead(order, read_at)
    reader = readers.get(entry.source)
    if reader is None:
        raise UnusableEvent(f"source: no storefront named {entry.source!r} is configured")
    if entry.kind == STOREFRONT_ORDER:
        return reader.order(entry.payload)
    if entry.kind == STOREFRONT_ORDER_EDITED:
        return reader.order_changed(entry.payload)
    raise UnusableEvent(f"kind: the storefront order flow does not fold {entry.kind!r}")


def fold_storefront_orders(
    connection: Connection,
    entries: Sequence[StorefrontEntry],
    config: Config,
    now: datetime,
    *,
    rederive: bool = True,
) -> set[tuple[str, str]]:
    """Fold storefront order versions. Returns the (SKU, warehouse) pairs whose open demand moved
    (docs/decisions/0022); with `rederive=False` the caller re-derives their targets itself."""
    folder = OrderFolder(connection, config, now)
    with folder.demand.deferred():
        _fold_each(connection, folder, entries, config, now)
        return set(folder.demand.moved) if rederive else folder.demand.take_moved()


def _fold_each(
    connection: Connection,
    folder: OrderFolder,
    entries: Sequence[StorefrontEntry],
    config: Config,
    now: datetime,
) -> None:
    for entry in entries:
        store = config.storefronts.get(entry.channel)
        if store is None:
            bump(connection, "storefront_orders.unknown_channel")
            continue
        if isinstance(entry, StorefrontOrderChanged):
            run_soon(connection, CATCH_UP_JOB, now)
            continue
        bump(connection, f"storefront_orders.{entry.channel}.versions")
        order, read_at = (
            (entry.order, entry.read_at) if isinstance(entry, StorefrontOrderRead) else (entry, None)
        )
        if route_of(connection, order, store) == "clarus":
            _fold_direct(connection, folder, order, read_at, store, now)
        else:
            ImsRoute(connection, config, now).fold(order, store, read_at)


def _fold_direct(
    connection: Connection,
    folder: OrderFolder,
    order: StorefrontOrder,
    read_at: datetime | None,
    store: Storefront,
    now: datetime,
) -> None:
    """Route clarus: the order beside IMS orders, its version judged by the storefront rule."""
    view = as_hub_sales_order(order, store.reference_prefix)
    version = read_version(orders_repo.order_version(view), order.updated_at, read_at)
    record = orders_repo.get_order(connection, ims_id=view.ims_id, lock=True)
    verdict = Verdict.NEWER if record is None else compare_versions(version, record.ims_version)
    if verdict == Verdict.NEWER:
        folder.fold_sales_order(view, channel=order.channel, version=version)
    elif verdict == Verdict.CONFIRMED and record is not None:
        orders_repo.save_order(connection, replace(record, ims_version=version), now)
    elif verdict == Verdict.TIE:
        ask_the_store(connection, order, view.reference, now)
    else:
        bump(connection, "orders.versions_ignored")


def ask_the_store(connection: Connection, order: StorefrontOrder, reference: str, now: datetime) -> None:
    """Two versions of one second disagree and neither was read from the store: keep the one held
    and ask for one read of the order once that second is over (durable: a row in this
    transaction; a second tie of the same order while one is asked for adds none)."""
    due = max(now, order.updated_at + STAMP_SETTLED)
    storefront_repo.request_reread(connection, order.channel, order.order_id, due)
    run_at(connection, REREAD_JOB, due)
    bump(connection, f"storefront_orders.{order.channel}.ties")
    log.info(
        "storefront order versions tie; reading the order from the store",
        reference=reference,
        updated_at=order.updated_at.isoformat(),
    )


def route_of(connection: Connection, order: StorefrontOrder, store: Storefront) -> str:
    """The route an order already took, else the store's: a store whose route changes keeps each
    order it already sent on its first route (else one order could reach Clarus twice)."""
    if orders_repo.get_order(connection, ims_id=hub_order_id(order.channel, order.order_id)) is not None:
        return "clarus"
    if storefront_repo.get_routed(connection, order.channel, order.order_id) is not None:
        return "ims"
    return store.orders_route


class ImsRoute:
    """Storefront → IMS: decide whether the IMS sales order must be made or changed."""

    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self.connection = connection
        self.config = config
        self.now = now

    def fold(self, order: StorefrontOrder, store: Storefront, read_at: datetime | None = None) -> None:
        version = storefront_version(order, read_at)
        routed = storefront_repo.get_routed(self.connection, order.channel, order.order_id, lock=True)
        verdict = Verdict.NEWER if routed is None else compare_versions(version, routed.version)
        if routed is not None and verdict == Verdict.CONFIRMED:
            storefront_repo.save_routed(self.connection, replace(routed, version=version), self.now)
            return
        if routed is not None and verdict == Verdict.TIE:
            ask_the_store(self.connection, order, routed.reference, self.now)
            return
        if routed is not None and verdict != Verdict.NEWER:
            bump(self.connection, "storefront_orders.versions_ignored")
            return
        if routed is None:
            reference = storefront_reference(store.reference_prefix, order.name)
            routed = RoutedOrder(order, reference, version, RoutedState.WAITING, (), None, {}, None)
        else:
            routed = replace(routed, order=order, version=version)
        self.decide(routed, store)

    def decide(self, routed: RoutedOrder, store: Storefront) -> RoutedOrder:
        order = routed.order
        request = ims_order_request(
            order,
            reference=routed.reference,
            customer_id=store.ims_customer or "",
            status=ims_status(self.config.orders.release_statuses),
            items=self.items(),
            ims_lines=routed.ims_lines,
        )
        decision = decide_ims_route(
            order,
            state=routed.state,
            in_ims=routed.ims_id is not None,
            synced=same_content(routed.version, routed.synced_version),
            release_financial_statuses=store.releasing_statuses,
            request=request,
        )
        saved = self._save(routed, decision.state, decision.holds)
        if decision.command and storefront_repo.add_command(
            self.connection, order.channel, order.order_id, routed.reference, self.now
        ):
            bump(self.connection, "storefront_orders.commands")
        return saved

    def items(self) -> dict[str, ImsItemRef]:
        return {
            i.sku: ImsItemRef(i.item_id, not i.is_inactive) for i in items_repo.all_items(self.connection)
        }

    def _save(self, routed: RoutedOrder, state: RoutedState, holds: tuple[HoldReason, ...]) -> RoutedOrder:
        updated = replace(routed, state=state, holds=holds)
        storefront_repo.save_routed(self.connection, updated, self.now)
        key = entity(routed.reference)
        for hold in holds:
            raise_exception(
                self.connection,
                type=hold.code,
                entity=key,
                owner=self.config.owners.owner_of(hold.code),
                detail=f"not put into the IMS: {hold.detail}",
                now=self.now,
                retry_action="fix the item in the IMS; the next product sync re-checks held orders",
            )
        cleared = {h.code for h in routed.holds} - {h.code for h in holds}
        for code in cleared:
            resolve_exceptions(self.connection, code, [key])
        if holds and routed.state != RoutedState.HELD:
            log.info(
                "storefront order held", reference=routed.reference, reasons=sorted({h.code for h in holds})
            )
        return updated

    def revalidate_held(self) -> int:
        """Check held orders again (after a product sync or a configuration change)."""
        moved = 0
        for routed in storefront_repo.routed_in(self.connection, [RoutedState.HELD]):
            store = self.config.storefronts.get(routed.order.channel)
            if store is not None and self.decide(routed, store).state != RoutedState.HELD:
                moved += 1
        return moved
