"""The hub's own webhook subscription at Clarus, kept by the scheduled job `subscriptions_check`: made
due when the API starts (engine/runtime.py) and run every `schedules.subscriptions_check_s`, so nobody
has to subscribe the hub by hand and a subscription that was deleted, points elsewhere, lacks an
event type or was made with an old secret is put right (domain/subscriptions.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import Connection, Engine

from stockbridge.config import Config
from stockbridge.domain.errors import ConnectorError
from stockbridge.domain.subscriptions import Registration, SubscriptionPlan, fingerprint, plan_subscription
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.schedule import run_soon
from stockbridge.flows.edge_ports import WebhookSubscriptions
from stockbridge.logs import get_logger
from stockbridge.store.bookkeeping import get_cursor, raise_exception, resolve_exceptions, set_cursor

log = get_logger(__name__)

WEBHOOK_PATH = "/webhooks/clarus"
REGISTRATION_CURSOR = "clarus.webhook_subscription"
EXCEPTION_TYPE = "webhook_subscription"
ENTITY = "clarus:webhooks"


async def check_subscription(
    engine: Engine, webhooks: WebhookSubscriptions, config: Config, secret: str, clock: Clock, base_url: str
) -> SubscriptionPlan:
    """Make Clarus hold exactly one subscription delivering every folded event type to `base_url`.

    A failure raises `webhook_subscription` (owner: integration) and is raised again for the caller;
    the next successful check resolves it.
    """
    url = base_url.rstrip("/") + WEBHOOK_PATH
    try:
        plan, kept = await _apply(engine, webhooks, url, secret)
    except ConnectorError as exc:
        detail = f"cannot register the webhook subscription at {url}: {exc}"
        now = clock.now()
        await in_transaction(
            engine,
            lambda c: raise_exception(
                c,
                type=EXCEPTION_TYPE,
                entity=ENTITY,
                owner=config.owners.owner_of(EXCEPTION_TYPE),
                detail=detail,
                now=now,
                retry_action="stockbridge sync subscriptions_check",
            ),
        )
        raise
    registration = Registration(kept, url, fingerprint(secret))

    now = clock.now()

    def record(connection: Connection) -> None:
        set_cursor(connection, REGISTRATION_CURSOR, json.dumps(asdict(registration)))
        resolve_exceptions(connection, EXCEPTION_TYPE, [ENTITY])
        if plan.delete:
            # Clarus drops the deliveries still queued for a subscription it deletes: the events
            # feed is where they are found again, so read it now rather than at its next schedule.
            run_soon(connection, "events_poll", now)

    await in_transaction(engine, record)
    if not plan.changes:
        log.debug("webhook subscription checked", id=kept, url=url)
    return plan


async def _apply(
    engine: Engine, webhooks: WebhookSubscriptions, url: str, secret: str
) -> tuple[SubscriptionPlan, str]:
    existing = await webhooks.subscriptions()
    recorded = await in_transaction(engine, _registration)
    plan = plan_subscription(existing, recorded, url, webhooks.events, fingerprint(secret))
    why = "; ".join(plan.reasons)
    kept = plan.keep
    if kept is None:
        # Create before deleting, so no event finds the hub without a subscription.
        created = await webhooks.subscribe(url, secret, webhooks.events)
        kept = created.id
        log.info("webhook subscription registered", id=kept, url=url, events=sorted(created.events), why=why)
    for subscription_id in plan.delete:
        await webhooks.unsubscribe(subscription_id)
        log.info("webhook subscription removed", id=subscription_id, why=why)
    return plan, kept


def _registration(connection: Connection) -> Registration | None:
    raw = get_cursor(connection, REGISTRATION_CURSOR)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return Registration(str(data["id"]), str(data["url"]), str(data["fingerprint"]))
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: start afresh (the plan adopts what is at the hub's URL)
