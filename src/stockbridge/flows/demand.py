"""Open demand, order side: each order's claim on warehouse stock is kept beside it, and when it
changes the storefront targets of its SKUs are re-derived in the same transaction (decision 0022).

An order claims units from the moment it is on its way to the warehouse until the warehouse reports
it allocated (or it is cancelled, held back, or completed): `domain/demand.py`.

Target rows are locked in key order, all at once per transaction where the transaction folds
several things (the inbox fold hands the pairs to its stock fold; `deferred()` collects them for one
re-derive at the end), so two workers never wait on each other's targets in opposite orders.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.demand import DemandKey, OrderAtHub, awaiting_command, claim_of
from stockbridge.domain.orders import WmsOrder
from stockbridge.flows.inventory import rederive_targets
from stockbridge.store import demand_repo, orders_repo
from stockbridge.store.orders_repo import OrderRecord


class DemandWatch:
    """Keeps an order's stored claim in step with the order; re-derives the targets it moved."""

    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self._connection = connection
        self._config = config
        self._now = now
        channels = config.stock_channels()
        self._active = any(config.ats_rule(c).subtracts_open_demand for c in channels)
        self._depth = 0  # inside deferred(): collect, re-derive once at the end
        self.moved: set[DemandKey] = set()  # pairs whose demand changed and are not re-derived yet

    def changed(self, record: OrderRecord, queued: WmsOrder | None = None) -> None:
        """Call once the order's new state is written. `queued`: the create or amend just written
        to the outbox for it. An order whose command is still on its way keeps the claim it had
        when the command was queued."""
        ims_id = record.order.ims_id
        order = OrderAtHub(record.state, record.wms_status, record.sent, queued)
        if queued is None and awaiting_command(order):
            # Still on its way: it claims what its queued create or amend carries.
            queued = orders_repo.queued_order(self._connection, ims_id)
            order = OrderAtHub(record.state, record.wms_status, record.sent, queued)
        before = demand_repo.stored_claim(self._connection, ims_id)
        after: Counter[DemandKey] = claim_of(order)
        if after == before:
            return
        demand_repo.replace_claim(self._connection, ims_id, after)
        if self._active:
            self.moved |= set(before) | set(after)
        if not self._depth:
            self.flush()

    @contextmanager
    def deferred(self) -> Iterator[None]:
        """Collect the moved pairs while inside; re-derive them in one go on the way out."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth:
            self.flush()

    def take_moved(self) -> set[DemandKey]:
        """Hand the moved pairs to a caller that re-derives them itself (the inbox fold)."""
        moved, self.moved = self.moved, set()
        return moved

    def flush(self) -> None:
        moved = self.take_moved()
        if moved:
            rederive_targets(self._connection, self._config, moved, self._now)
