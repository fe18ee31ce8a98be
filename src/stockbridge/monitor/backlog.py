"""How much work each flow holds and how long its oldest item has waited: for /metrics, the SLO
check and the reports.

Call it inside a transaction (`await in_transaction(engine, lambda c: read_backlog(c, config, now))`
from async code). Flow names (`FlowBacklog.flow`):

| flow | what waits | oldest since |
|---|---|---|
| `inbox.<kind>` | inbox entries not yet folded (`inventory.movement`, ...) | received |
| `targets.<channel>` | dirty stock targets (not blocked ones: they have exceptions) | dirty_since |
| `stock_batches.<channel>` | stock pushes written, not yet acknowledged | written |
| `order_commands` | creates, amends, cancels for the warehouse | written |
| `storefront_order_commands` | storefront orders to make or update in the IMS | written |
| `storefront_order_rereads` | storefront orders to read again after a same-second tie (decision 0024) | due |
| `fulfilment_commands.<kind>` | Item Fulfilments, invoices, storefront fulfilments | written |
| `notifications` | customers' shipping notices | written |
| `held_orders.<channel>` | orders held for a person, by the channel they came from | held |
| `parked_shipments` | despatches whose order the hub does not know yet | arrived |
| `finance_batches` | the day's finance adjustments made and not yet posted (with `finance.reasons`) | made |
| `alerts` | alert messages to teams not yet taken by their channel (decision 0027) | queued |

Dead-lettered work is not backlog: it waits for a person under its own exception. Every flow the
configuration implies is listed, empty ones with size 0 and no age, so a gauge never disappears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from stockbridge.config import Config
from stockbridge.domain import inbound
from stockbridge.domain.fulfilment_state import FulfilmentCommand
from stockbridge.store import backlog_repo, storefront_repo
from stockbridge.store.backlog_repo import Waiting

INBOX_KINDS = sorted(inbound.STOCK_KINDS | inbound.ORDER_KINDS | inbound.STOREFRONT_KINDS)
NOTIFICATIONS = "notifications"


@dataclass(frozen=True, slots=True)
class FlowBacklog:
    flow: str
    size: int
    oldest_age_s: float | None  # seconds the oldest item has waited; None when the flow is empty


def read_backlog(connection: Connection, config: Config, now: datetime) -> list[FlowBacklog]:
    """Every flow's backlog at `now`, sorted by flow name."""
    channels = config.stock_channels()
    found: dict[str, Waiting | None] = {}

    def add(family: str, groups: dict[str, Waiting], parts: list[str]) -> None:
        for part in dict.fromkeys([*parts, *groups]):
            found[f"{family}.{part}"] = groups.get(part)

    add("inbox", backlog_repo.inbox_pending(connection), INBOX_KINDS)
    add("targets", backlog_repo.dirty_targets(connection), channels)
    add("stock_batches", backlog_repo.pending_stock_batches(connection), channels)
    add("held_orders", backlog_repo.held_orders(connection), channels)
    commands = backlog_repo.pending_fulfilment_commands(connection)
    found[NOTIFICATIONS] = commands.pop(FulfilmentCommand.NOTIFY.value, None)
    kinds = [k.value for k in FulfilmentCommand if k != FulfilmentCommand.NOTIFY]
    add("fulfilment_commands", commands, kinds)
    found["order_commands"] = backlog_repo.pending_order_commands(connection)
    found["storefront_order_commands"] = backlog_repo.pending_storefront_order_commands(connection)
    found["parked_shipments"] = backlog_repo.parked_shipments(connection)
    if config.finance.reasons:
        found["finance_batches"] = backlog_repo.pending_finance_batches(connection)
    found["alerts"] = backlog_repo.pending_alerts(connection)
    rereads, due = storefront_repo.rereads_waiting(connection)
    found["storefront_order_rereads"] = Waiting(rereads, due) if rereads else None
    return [_row(flow, waiting, now) for flow, waiting in sorted(found.items())]


def _row(flow: str, waiting: Waiting | None, now: datetime) -> FlowBacklog:
    if waiting is None:
        return FlowBacklog(flow, 0, None)
    age = None if waiting.since is None else max(0.0, (now - waiting.since).total_seconds())
    return FlowBacklog(flow, waiting.size, age)
