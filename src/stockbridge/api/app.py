"""The hub's HTTP surface: signed webhooks in; a liveness probe; status, metrics and jobs for tokens."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.api.access import guard
from stockbridge.api.ingest import GroupCommitWriter
from stockbridge.api.limits import BodySizeLimit
from stockbridge.config import Config
from stockbridge.connectors.clarus import signature
from stockbridge.connectors.clarus.wire import INBOX_KIND, SOURCE, parse_event
from stockbridge.connectors.shopify import webhooks as shopify_webhooks
from stockbridge.connectors.shopify.wire import UnusablePayloadError
from stockbridge.domain.inbound import STOREFRONT_ORDER, STOREFRONT_ORDER_EDITED, UnusableEvent
from stockbridge.domain.storefront_orders import StorefrontOrder
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.schedule import SCHEDULED_JOBS, last_runs, run_soon
from stockbridge.flows.poison import BAD_WEBHOOK, reject_unusable
from stockbridge.monitor.drift import DriftMetrics
from stockbridge.monitor.metrics import StoredMetrics
from stockbridge.store import (
    fulfilment_repo,
    inbox_repo,
    orders_repo,
    outbox_repo,
    storefront_repo,
    targets_repo,
)
from stockbridge.store.bookkeeping import count_open_exceptions, raise_exception, read_counters
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.tokens_repo import Role

log = logging.getLogger("stockbridge.api")

_SHOPIFY_ID = shopify_webhooks.WEBHOOK_ID_HEADER
_MAX_EVENT_ID = 160  # inbox.event_id holds 200; Shopify's ids are UUIDs


def create_app(
    *,
    engine: Engine,
    config: Config,
    clock: Clock,
    clarus_webhook_secret: str,
    on_stored: Callable[[], None] | None = None,
    collectors: Sequence[Collector] = (),
    storefront_webhook_secrets: Mapping[str, str] | None = None,
) -> Starlette:
    secret = clarus_webhook_secret.encode()
    # Each storefront's webhook secret, by channel name (from the environment: engine/connect.py).
    store_secrets = {name: value.encode() for name, value in (storefront_webhook_secrets or {}).items()}
    tolerance_s = config.connectors.clarus.webhook_tolerance_s
    writer = GroupCommitWriter(engine, clock, on_stored)
    require = guard(engine)
    registry = CollectorRegistry()
    # Latency and backlog from the database: the same whichever process serves the scrape.
    registry.register(StoredMetrics(engine, config, clock))
    registry.register(DriftMetrics(engine, config.stock_channels()))
    for collector in collectors:  # e.g. the workers' rate limiters, when they run in this process
        registry.register(collector)
    webhooks = Counter(
        "stockbridge_webhooks", "Webhook requests by outcome", ["source", "outcome"], registry=registry
    )
    too_large = Counter(
        "stockbridge_requests_too_large", "Requests refused for their body size (413)", registry=registry
    )
    stored = webhooks.labels(SOURCE, "stored")  # bound once: the hot path should not look labels up

    async def clarus_webhook(request: Request) -> Response:
        body = await request.body()
        headers = request.headers
        signed_at = signature.verify(
            secret, body, headers.get(signature.SIGNATURE_HEADER), headers.get(signature.TIMESTAMP_HEADER)
        )
        if signed_at is None:
            webhooks.labels(SOURCE, "bad_signature").inc()
            return JSONResponse({"error": "invalid or missing signature"}, status_code=401)
        now = clock.now()
        if not signature.is_fresh(signed_at, now.timestamp(), tolerance_s):
            webhooks.labels(SOURCE, "stale").inc()
            skew_s = round(signed_at - now.timestamp())
            await in_transaction(engine, lambda c: _note_skew(c, skew_s))
            return JSONResponse(
                {"error": f"timestamp {skew_s:+d} s from ours, outside the {tolerance_s:g} s window"},
                status_code=401,
            )
        try:
            event = parse_event(body)
        except UnusableEvent as exc:
            return await reject(request, body, str(exc))
        header_id = request.headers.get(signature.EVENT_ID_HEADER)
        if header_id is not None and header_id != event.id:
            return await reject(
                request, body, f"X-Clarus-Event-Id {header_id!r} does not match the body's id {event.id!r}"
            )
        try:
            await writer.store(InboundEvent(SOURCE, event.id, INBOX_KIND[event.type], body.decode()))
        except Exception:
            log.exception("could not store webhook %s", event.id)
            webhooks.labels(SOURCE, "store_failed").inc()
            return JSONResponse({"error": "not stored, retry"}, status_code=503)
        stored.inc()
        return Response(b'{"received":%s}' % json.dumps(event.id).encode(), media_type="application/json")

    async def shopify_webhook(request: Request) -> Response:
        """A storefront's order webhook: verified with that store's secret, stored raw under the
        channel's name (its connector parses it again when the fold reads it), de-duplicated by
        X-Shopify-Webhook-Id. Shopify retries what is not answered 2xx within 5 s."""
        channel = request.path_params["channel"]
        store_secret = store_secrets.get(channel)
        if channel not in config.storefronts or store_secret is None:
            return JSONResponse({"error": f"no storefront named {channel!r}"}, status_code=404)
        body = await request.body()
        try:
            delivery = shopify_webhooks.read_delivery(store_secret, request.headers, body)
        except shopify_webhooks.WebhookVerificationError:
            webhooks.labels(channel, "bad_signature").inc()
            return JSONResponse({"error": "invalid or missing X-Shopify-Hmac-Sha256"}, status_code=401)
        except UnusablePayloadError as exc:
            return await reject(request, body, str(exc), source=channel, id_header=_SHOPIFY_ID)
        if len(delivery.dedupe_key) > _MAX_EVENT_ID:
            reason = f"{_SHOPIFY_ID} is longer than {_MAX_EVENT_ID} characters"
            return await reject(request, body, reason, source=channel, id_header=_SHOPIFY_ID)
        if delivery.topic not in shopify_webhooks.ORDER_TOPICS:
            webhooks.labels(channel, "ignored").inc()  # a topic the hub does not fold
            return JSONResponse({"ignored": delivery.topic})
        try:
            parsed = shopify_webhooks.parse_order_event(channel, delivery.topic, body)
        except UnusablePayloadError as exc:
            return await reject(request, body, str(exc), source=channel, id_header=_SHOPIFY_ID)
        kind = STOREFRONT_ORDER if isinstance(parsed, StorefrontOrder) else STOREFRONT_ORDER_EDITED
        try:
            await writer.store(InboundEvent(channel, delivery.dedupe_key, kind, body.decode()))
        except Exception:
            log.exception("could not store webhook %s", delivery.dedupe_key)
            webhooks.labels(channel, "store_failed").inc()
            return JSONResponse({"error": "not stored, retry"}, status_code=503)
        webhooks.labels(channel, "stored").inc()
        return JSONResponse({"received": delivery.dedupe_key})

    async def reject(
        request: Request,
        body: bytes,
        reason: str,
        *,
        source: str = SOURCE,
        id_header: str = signature.EVENT_ID_HEADER,
    ) -> Response:
        """Signed but unusable: answer with the reason and keep it for inspection as an exception."""
        webhooks.labels(source, "unusable").inc()
        claimed = request.headers.get(id_header)
        await in_transaction(
            engine,
            lambda c: reject_unusable(
                c,
                config,
                clock.now(),
                source=source,
                claimed_id=claimed,
                body=body,
                reason=reason,
                exception_type=BAD_WEBHOOK,
            ),
        )
        return JSONResponse({"error": "unusable event", "reason": reason}, status_code=422)

    def _note_skew(connection: Connection, skew_s: int) -> None:
        """Authentic but outside the window: a replay, or the sender's clock is off. Either way a
        person must know, since every delivery refused here reaches the hub only by the events feed."""
        raise_exception(
            connection,
            type="webhook_clock_skew",
            entity=SOURCE,
            owner=config.owners.owner_of("webhook_clock_skew"),
            detail=f"a signed delivery's timestamp was {skew_s:+d} s from the hub's clock "
            f"(connectors.clarus.webhook_tolerance_s = {tolerance_s:g})",
            now=clock.now(),
            retry_action="fix the clock that is off (NTP) or widen the tolerance; the events feed catches up",
        )

    async def liveness(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def status(_: Request) -> Response:
        def read(connection: Connection) -> dict[str, Any]:
            return {
                "status": "ok",
                "inbox_pending": inbox_repo.pending_count(connection),
                "dirty_targets": targets_repo.dirty_count(connection),
                "batches": outbox_repo.batches_by_state(connection),
                "orders": orders_repo.counts_by_state(connection),
                "order_commands": orders_repo.commands_by_state(connection),
                "storefront_orders": storefront_repo.counts_by_state(connection),
                "storefront_order_commands": storefront_repo.commands_by_state(connection),
                "storefront_order_rereads": {"pending": storefront_repo.rereads_pending(connection)},
                "shipments": fulfilment_repo.counts_by_state(connection),
                "fulfilment_commands": fulfilment_repo.commands_by_state(connection),
                "open_exceptions": count_open_exceptions(connection),
                "counters": read_counters(connection),
                "jobs": last_runs(connection),
            }

        return JSONResponse(await in_transaction(engine, read))

    async def run_job(request: Request) -> Response:
        job = request.path_params["job"]
        if job not in SCHEDULED_JOBS:
            return JSONResponse(
                {"error": f"unknown job {job!r}", "jobs": sorted(SCHEDULED_JOBS)}, status_code=404
            )
        now = clock.now()
        await in_transaction(engine, lambda c: run_soon(c, job, now))
        return JSONResponse({"job": job, "due": now.isoformat()}, status_code=202)

    async def metrics(_: Request) -> Response:
        # Off the event loop: the stored metrics are read from the database.
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await writer.start()
        try:
            yield
        finally:
            await writer.stop()

    return Starlette(
        routes=[
            Route("/webhooks/clarus", clarus_webhook, methods=["POST"]),
            Route("/webhooks/shopify/{channel}", shopify_webhook, methods=["POST"]),
            Route("/health", liveness),
            Route("/admin/status", require(Role.VIEWER, status)),
            Route("/metrics", require(Role.VIEWER, metrics)),
            Route("/admin/jobs/{job}", require(Role.OPERATOR, run_job), methods=["POST"]),
        ],
        middleware=[Middleware(BodySizeLimit, max_bytes=config.hub.max_body_bytes, on_refused=too_large.inc)],
        lifespan=lifespan,
    )
