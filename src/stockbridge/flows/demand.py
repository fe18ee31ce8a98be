"""Open demand, order side: when an order's claim on warehouse stock changes, the storefront targets
of its SKUs are re-derived in the same transaction (docs/decisions/0022).

An order claims units from the moment it is on its way to the warehouse until the warehouse reports
it allocated (or it is cancelled, held back, or completed): `domain/demand.py`.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain.demand import CLAIMING_STATES, DemandKey, OrderAtHub, claim_of
from stockbridge.domain.order_state import OrderState
from stockbridge.flows.inventory import rederive_targets
from stockbridge.store import demand_repo
from stockbridge.store.orders_repo import OrderRecord


class DemandWatch:
    """Compares an order's claim before and after a change; re-derives the targets it moved."""

    def __init__(self, connection: Connection, config: Config, now: datetime) -> None:
        self._connection = connection
        self._config = config
        self._now = now
        channels = config.stock_channels()
        self._active = any(config.ats_rule(c).subtracts_open_demand for c in channels)

    def claim(self, record: OrderRecord) -> Counter[DemandKey]:
        """Units the order (as stored now, with its commands still to be sent) claims."""
        if not self._active or record.state not in CLAIMING_STATES:
            return Counter()
        pending = None
        if record.state != OrderState.RELEASED:
            pending = demand_repo.pending_payload(self._connection, record.order.ims_id)
        return claim_of(OrderAtHub(record.state, record.wms_status, record.sent, pending))

    def changed(self, before: Counter[DemandKey], after: OrderRecord) -> None:
        """Call once the order's new state and its command (if any) are written."""
        now_claimed = self.claim(after)
        if now_claimed != before:
            rederive_targets(self._connection, self._config, set(before) | set(now_claimed), self._now)
