"""One fold for the whole inbox: each entry goes to the flow that owns its kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.connectors.clarus.wire import MOVEMENT_EVENT, ORDER_EVENTS, SHIPMENT_EVENT, SNAPSHOT_KIND
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.orders import SALES_ORDER_KIND, fold_order_entries
from stockbridge.store import inbox_repo
from stockbridge.store.bookkeeping import raise_exception
from stockbridge.store.inbox_repo import InboxEntry

INVENTORY_KINDS = frozenset({MOVEMENT_EVENT, SNAPSHOT_KIND})
ORDER_KINDS = frozenset({SALES_ORDER_KIND, *ORDER_EVENTS, SHIPMENT_EVENT})


def fold_inbox(connection: Connection, entries: Sequence[InboxEntry], config: Config, now: datetime) -> None:
    inventory = [e for e in entries if e.kind in INVENTORY_KINDS]
    orders = [e for e in entries if e.kind in ORDER_KINDS]
    unknown = [e for e in entries if e.kind not in INVENTORY_KINDS | ORDER_KINDS]
    if inventory:
        fold_entries(connection, inventory, config, now)
    if orders:
        fold_order_entries(connection, [(e.kind, e.payload) for e in orders], config, now)
    for entry in unknown:
        raise_exception(
            connection,
            type="bad_webhook",
            entity=f"{entry.source}:{entry.event_id}",
            owner=config.owners.owner_of("bad_webhook"),
            detail=f"no flow folds inbox entries of kind {entry.kind!r}",
            now=now,
        )
    inbox_repo.mark_processed(connection, [e.id for e in orders + unknown], now)
