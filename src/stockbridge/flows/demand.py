"""Open demand, order side: each order's claim on warehouse stock is kept beside it, and when it
changes the storefront targets of its SKUs are re-derived in the same transaction (decision 0022).

An order claims units from the moment it is on its way to the warehouse until the warehouse reports
it allocated (or it is cancelled, held back, or completed): `domain/demand.py`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.demand import DemandKey, OrderAtHub, awaiting_command, claim_of
from stockbridge.domain.orders import WmsOrder
from stockbridge.flows.inventory import rederive_targets
from stockbridge.store import demand_repo
from stockbridge.store.orders_repo import OrderRecord


class DemandWatch:
    """Keeps an order's stored claim in step with the order; re-derives the targets it moved."""

    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self._connection = connection
        self._config = config
        self._now = now
        channels = config.stock_channels()
        self._active = any(config.ats_rule(c).subtracts_open_demand for c in channels)

    def changed(self, record: OrderRecord, queued: WmsOrder | None = None) -> None:
        """Call once the order's new state is written. `queued`: the create or amend just written
        to the outbox for it. An order whose command is still on its way keeps the claim it had
        when the command was queued."""
        order = OrderAtHub(record.state, record.wms_status, record.sent, queued)
        ims_id = record.order.ims_id
        before = demand_repo.stored_claim(self._connection, ims_id)
        after: Counter[DemandKey] = claim_of(order)
        if queued is None and awaiting_command(order):
            after = before  # still on its way: what it claimed when its command was queued
        if after == before:
            return
        demand_repo.replace_claim(self._connection, ims_id, after)
        if self._active:
            rederive_targets(self._connection, self._config, set(before) | set(after), self._now)
