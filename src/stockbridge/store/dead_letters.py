"""Dead letters across the outboxes: list them, and queue them again for an operator.

Work is dead-lettered when its retry window and attempt budget are spent, or when the far end
refused it for good. Each dead letter has an open exception with an owner (the sender raises it);
replaying gives the work a fresh window and budget, and the exception resolves when it goes through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select

from stockbridge.domain.fulfilment_state import FulfilmentCommand
from stockbridge.store import (
    alerts_repo,
    finance_repo,
    fulfilment_repo,
    orders_repo,
    outbox_repo,
    storefront_repo,
)
from stockbridge.store.schema import (
    alerts,
    finance_batches,
    fulfilment_commands,
    order_commands,
    push_batches,
    storefront_order_commands,
)
from stockbridge.store.sql import as_utc, utc
from stockbridge.store.states import BatchState


class Outbox(StrEnum):
    PUSHES = "pushes"  # stock adjustment batches to the IMS
    ORDERS = "orders"  # create, amend, cancel commands to the warehouse
    FULFILMENT = "fulfilment"  # Item Fulfilments, invoices and customer notices
    STOREFRONT_ORDERS = "storefront_orders"  # storefront orders made into IMS sales orders
    FINANCE = "finance"  # the daily finance batches (IMS inventory adjustments)
    ALERTS = "alerts"  # alert messages to people (one row per channel)


# The exception each sender raises when it dead-letters, and the entity prefix it names.
PUSH_FAILED = "push_failed"  # batch:<id>
ORDER_COMMAND_FAILED = "order_command_failed"  # order:<reference>
FULFILMENT_COMMAND_FAILED = "fulfilment_command_failed"  # shipment:<id> (Item Fulfilment, invoice)
NOTIFICATION_FAILED = "notification_failed"  # shipment:<id> (customer notice)
STOREFRONT_ORDER_FAILED = "storefront_order_failed"  # order:<reference> (its IMS sales order)
STOREFRONT_FULFILMENT_FAILED = "storefront_fulfilment_failed"  # shipment:<id> (its store's fulfilment)
FINANCE_BATCH_FAILED = "finance_batch_failed"  # finance_batch:<id> (its IMS inventory adjustment)
ALERT_FAILED = "alert_failed"  # channel:<channel name> (an alert message to it)


def fulfilment_failure_type(kind: FulfilmentCommand) -> str:
    if kind == FulfilmentCommand.STORE_FULFILMENT:
        return STOREFRONT_FULFILMENT_FAILED
    return NOTIFICATION_FAILED if kind == FulfilmentCommand.NOTIFY else FULFILMENT_COMMAND_FAILED


def replay_action(outbox: Outbox, row_id: object) -> str:
    return f"stockbridge replay --outbox {outbox.value} --id {row_id}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    outbox: Outbox
    id: str
    subject: str  # what the work was, in the business's words
    attempts: int
    failing_since: datetime | None
    created_at: datetime
    last_error: str | None


def list_dead(connection: Connection, outboxes: Sequence[Outbox] = tuple(Outbox)) -> list[DeadLetter]:
    found: list[DeadLetter] = []
    dead = BatchState.DEAD.value
    if Outbox.PUSHES in outboxes:
        for r in connection.execute(select(push_batches).where(push_batches.c.state == dead)):
            subject = f"{len(r.lines)} stock figure(s) for {r.channel} location {r.location}"
            found.append(_letter(Outbox.PUSHES, r.id, subject, r))
    if Outbox.ORDERS in outboxes:
        for r in connection.execute(select(order_commands).where(order_commands.c.state == dead)):
            found.append(_letter(Outbox.ORDERS, str(r.id), f"{r.kind} order {r.reference}", r))
    if Outbox.FULFILMENT in outboxes:
        query = select(fulfilment_commands).where(fulfilment_commands.c.state == dead)
        for r in connection.execute(query):
            found.append(_letter(Outbox.FULFILMENT, str(r.id), f"{r.kind} for shipment {r.shipment_id}", r))
    if Outbox.STOREFRONT_ORDERS in outboxes:
        query = select(storefront_order_commands).where(storefront_order_commands.c.state == dead)
        for r in connection.execute(query):
            subject = f"IMS sales order for {r.channel} order {r.reference}"
            found.append(_letter(Outbox.STOREFRONT_ORDERS, str(r.id), subject, r))
    if Outbox.FINANCE in outboxes:
        for r in connection.execute(select(finance_batches).where(finance_batches.c.state == dead)):
            subject = f"finance adjustment {r.business_date} location {r.location} account {r.account}"
            found.append(_letter(Outbox.FINANCE, r.id, subject, r))
    if Outbox.ALERTS in outboxes:
        for r in connection.execute(select(alerts).where(alerts.c.state == dead)):
            channel = alerts_repo.channel_from_json(r.channel)
            found.append(
                _letter(Outbox.ALERTS, str(r.id), f"alert {r.alert} to {channel.name}: {r.title}", r)
            )
    return sorted(found, key=lambda d: (d.created_at, d.outbox.value, d.id))


def _letter(outbox: Outbox, row_id: str, subject: str, row: Any) -> DeadLetter:
    return DeadLetter(
        outbox,
        row_id,
        subject,
        int(row.attempts),
        as_utc(row.failing_since),
        utc(row.created_at),
        row.last_error,
    )


def count_dead(connection: Connection) -> dict[str, int]:
    counts = {outbox.value: 0 for outbox in Outbox}
    for letter in list_dead(connection):
        counts[letter.outbox.value] += 1
    return counts


def replay(connection: Connection, outbox: Outbox, now: datetime, ids: Sequence[str] | None = None) -> int:
    """Queue one outbox's dead letters again (those with `ids`, or all); returns how many."""
    if outbox == Outbox.PUSHES:
        return outbox_repo.replay_dead(connection, now, ids)
    if outbox == Outbox.FINANCE:
        return finance_repo.replay_dead(connection, now, ids)
    numbers = [int(i) for i in ids] if ids else None
    if outbox == Outbox.ORDERS:
        return orders_repo.replay_dead_commands(connection, now, numbers)
    if outbox == Outbox.STOREFRONT_ORDERS:
        return storefront_repo.replay_dead(connection, now, numbers)
    if outbox == Outbox.ALERTS:
        return alerts_repo.replay_dead(connection, now, numbers)
    return fulfilment_repo.replay_dead(connection, now, numbers)


def replay_for_exception(connection: Connection, type: str, entity: str, now: datetime) -> int | None:
    """Queue again the dead letters an exception stands for; None when it is not a dead letter's."""
    kind, _, key = entity.partition(":")
    if type == PUSH_FAILED and kind == "batch":
        return outbox_repo.replay_dead(connection, now, [key])
    if type == FINANCE_BATCH_FAILED and kind == "finance_batch":
        return finance_repo.replay_dead(connection, now, [key])
    if type == ORDER_COMMAND_FAILED and kind == "order":
        return orders_repo.replay_dead_commands(connection, now, reference=key)
    if type == ALERT_FAILED and kind == "channel":
        return alerts_repo.replay_dead_to(connection, now, key)
    if type == STOREFRONT_ORDER_FAILED and kind == "order":
        return storefront_repo.replay_dead(connection, now, reference=key)
    # fulfilment_stalled: before decision 0010 a dead-lettered Item Fulfilment raised it; for a
    # shipment whose Item Fulfilment is merely late there is nothing dead, and nothing is queued.
    if type == STOREFRONT_FULFILMENT_FAILED and kind == "shipment":
        store = FulfilmentCommand.STORE_FULFILMENT
        return fulfilment_repo.replay_dead(connection, now, shipment_id=key, kinds=[store])
    if type in (NOTIFICATION_FAILED, FULFILMENT_COMMAND_FAILED, "fulfilment_stalled") and kind == "shipment":
        notices = type == NOTIFICATION_FAILED
        return fulfilment_repo.replay_dead(connection, now, shipment_id=key, notices=notices)
    return None
