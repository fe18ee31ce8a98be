"""Targets blocked in a stock channel are read again; those the channel now takes go back to pushing.

A target is blocked when its channel does not know the SKU or will refuse it (`unknown_sku`,
`inactive_sku`, flows/stock_push.py). The IMS's are unblocked by its item refresh (the hub keeps the
IMS item list). A storefront's are read again through the port, here: a SKU the store now shows and
would take (a variant created, stocked at the location) is unblocked at that location, its target
still dirty, so the next push sets its figure, and its exceptions in that channel are resolved.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, Engine

from stockbridge.engine.db import in_transaction
from stockbridge.engine.retry import with_retries
from stockbridge.flows.ports import StockChannel
from stockbridge.flows.stock_push import sku_entity
from stockbridge.store import targets_repo
from stockbridge.store.bookkeeping import resolve_exceptions
from stockbridge.store.sql import chunks
from stockbridge.store.targets_repo import TargetKey

READ_PAGE = 250  # SKUs per read: the channel pages further itself if it must


async def recheck_blocked(engine: Engine, channel: StockChannel) -> int:
    """Read the channel's blocked SKUs again; unblock those it now takes. Returns how many."""
    name = channel.name
    blocked = await in_transaction(engine, lambda c: targets_repo.blocked_targets(c, name))
    by_location: dict[str, list[str]] = defaultdict(list)
    for _, sku, location in blocked:
        by_location[location].append(sku)
    ready: list[TargetKey] = []
    for location, skus in by_location.items():
        for chunk in chunks(skus, READ_PAGE):
            figures = await with_retries(lambda: channel.read_figures(location, list(chunk)))
            ready += [(name, sku, location) for sku in chunk if (f := figures.get(sku)) and f.pushable]
    if not ready:
        return 0
    still = {sku for _, sku, _ in blocked} - {sku for _, sku, _ in ready}

    def unblock(connection: Connection) -> None:
        targets_repo.unblock_targets(connection, ready)
        entities = sorted({sku_entity(name, sku) for _, sku, _ in ready if sku not in still})
        resolve_exceptions(connection, "unknown_sku", entities)
        resolve_exceptions(connection, "inactive_sku", entities)

    await in_transaction(engine, unblock)
    return len(ready)
