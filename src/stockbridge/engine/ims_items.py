"""The hub's copy of the IMS item list: read from the IMS on schedule, and the IMS stock channel's
directory from warehouse SKU to IMS item (`connectors/netsuite/stock.ItemDirectory`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import aclosing
from functools import partial

from sqlalchemy import Connection, Engine

from stockbridge.config import IMS_CHANNEL_NAME
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.domain.product_master import ItemRecord
from stockbridge.engine.bounded import read_ahead
from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.stock_push import sku_entity
from stockbridge.store import items_repo, targets_repo
from stockbridge.store.bookkeeping import resolve_exceptions
from stockbridge.store.items_repo import ImsItem


class StoredImsItems:
    """IMS items by warehouse SKU from the hub's item list: no call to the IMS. It knows the warehouse
    SKUs the product sync derived from IMS SKUs (`odd.sku-7` -> `ODDSKU-7`), which the IMS does not."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def items_for(self, skus: Sequence[str]) -> Mapping[str, ItemRecord]:
        found = await in_transaction(self._engine, lambda c: items_repo.items_for(c, list(skus)))
        return {
            sku: ItemRecord(i.item_id, i.sku, i.is_inactive, i.last_modified, i.item_type)
            for sku, i in found.items()
        }


async def refresh_items(engine: Engine, client: NetSuiteClient, skus: list[str] | None = None) -> int:
    """Read the IMS item list (all, or the given SKUs), then unblock IMS targets whose item is now active.

    A SuiteQL page at a time, each stored in its own transaction while the next is read: the whole
    list of a large catalogue is never held at once (a failed page reads the list again; storing a
    page twice changes nothing)."""

    def store(connection: Connection, records: list[ItemRecord]) -> int:
        items_repo.upsert_items(
            connection,
            [ImsItem(r.sku, r.item_id, r.is_inactive, r.last_modified, r.item_type) for r in records],
        )
        active = [r.sku for r in records if not r.is_inactive]
        unblocked = targets_repo.unblock_skus(connection, IMS_CHANNEL_NAME, active)
        entities = [sku_entity(IMS_CHANNEL_NAME, s) for s in active]
        resolve_exceptions(connection, "unknown_sku", entities)
        resolve_exceptions(connection, "inactive_sku", entities)
        return unblocked

    async def read_all() -> int:
        unblocked = 0
        async with aclosing(read_ahead(client.inventory_item_pages(skus))) as pages:
            async for page in pages:
                unblocked += await in_transaction(engine, partial(store, records=page))
        return unblocked

    return await with_retries(read_all)
