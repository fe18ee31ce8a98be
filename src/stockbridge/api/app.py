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
from starlette.types import ASGIApp, Receive, Scope, Send

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
CLARUS_PATH = "/webhooks/clarus"
_SIGNATURE = signature.SIGNATURE_HEADER.encode()
_TIMESTAMP = signature.TIMESTAMP_HEADER.encode()
_EVENT_ID = signature.EVENT_ID_HEADER.encode()


def create_app(
    *,
    engine: Engine,
    config: Config,
    clock: Clock,
    clarus_webhook_secret: str,
    on_stored: Callable[[], None] | None = None,
    on_job_asked: Callable[[], None] | None = None,
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

    async def clarus_webhook(scope: Scope, receive: Receive, send: Send) -> None:
        """Clarus's webhook as a plain ASGI handler (decision 0043): the body straight from the
        server's messages, the three headers it needs picked from the raw list, the answer sent as
        two messages; what a Request, a Response and the framework's per-request layers cost here
        was most of the hub's CPU an event beyond the bare endpoint's. The errors' answers are the
        framework's responses, as before."""
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before its body arrived: nothing to answer
        signed = timestamp = header_id = None
        for name, value in scope["headers"]:  # the first of each, as Starlette's Headers.get
            if name == _SIGNATURE and signed is None:
                signed = value.decode("latin-1")
            elif name == _TIMESTAMP and timestamp is None:
                timestamp = value.decode("latin-1")
            elif name == _EVENT_ID and header_id is None:
                header_id = value.decode("latin-1")
        answer = await clarus_answer(body, signed, timestamp, header_id)
        if isinstance(answer, str):  # stored: the event's id
            payload = b'{"received":%s}' % json.dumps(answer).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(payload))]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
        else:
            await answer(scope, receive, send)

    async def clarus_answer(
        body: bytes, signed: str | None, timestamp: str | None, header_id: str | None
    ) -> Response | str:
        """The answer to a delivery: an error's response, or the id of the event now stored."""
        signed_at = signature.verify(secret, body, signed, timestamp)
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
            return await reject(body, str(exc), claimed=header_id)
        if header_id is not None and header_id != event.id:
            return await reject(
                body,
                f"X-Clarus-Event-Id {header_id!r} does not match the body's id {event.id!r}",
                claimed=header_id,
            )
        try:
            await writer.store(InboundEvent(SOURCE, event.id, INBOX_KIND[event.type], body.decode()))
        except Exception:
            log.exception("could not store webhook %s", event.id)
            webhooks.labels(SOURCE, "store_failed").inc()
            return JSONResponse({"error": "not stored, retry"}, status_code=503)
        stored.inc()
        return event.id

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
            return await reject(body, str(exc), claimed=request.headers.get(_SHOPIFY_ID), source=channel)
        if len(delivery.dedupe_key) > _MAX_EVENT_ID:
            reason = f"{_SHOPIFY_ID} is longer than {_MAX_EVENT_ID} characters"
            return await reject(body, reason, claimed=request.headers.get(_SHOPIFY_ID), source=channel)
        if delivery.topic not in shopify_webhooks.ORDER_TOPICS:
            webhooks.labels(channel, "ignored").inc()  # a topic the hub does not fold
            return JSONResponse({"ignored": delivery.topic})
        try:
            parsed = shopify_webhooks.parse_order_event(channel, delivery.topic, body)
        except UnusablePayloadError as exc:
            return await reject(body, str(exc), claimed=request.headers.get(_SHOPIFY_ID), source=channel)
        kind = STOREFRONT_ORDER if isinstance(parsed, StorefrontOrder) else STOREFRONT_ORDER_EDITED
        try:
            await writer.store(InboundEvent(channel, delivery.dedupe_key, kind, body.decode()))
        except Exception:
            log.exception("could not store webhook %s", delivery.dedupe_key)
            webhooks.labels(channel, "store_failed").inc()
            return JSONResponse({"error": "not stored, retry"}, status_code=503)
        webhooks.labels(channel, "stored").inc()
        return JSONResponse({"received": delivery.dedupe_key})

    async def reject(body: bytes, reason: str, *, claimed: str | None, source: str = SOURCE) -> Response:
        """Signed but unusable: answer with the reason and keep it for inspection as an exception."""
        webhooks.labels(source, "unusable").inc()
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
        if on_job_asked is not None:  # this process's scheduler looks now, not at its next tick
            on_job_asked()
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

    body_limit = config.hub.max_body_bytes
    return _Hub(
        # Past the framework: the same handler behind the same body limit (decision 0043).
        clarus=BodySizeLimit(clarus_webhook, max_bytes=body_limit, on_refused=too_large.inc),
        routes=[
            # Through the framework when the fast path does not apply (another method: 405).
            Route(CLARUS_PATH, _Asgi(clarus_webhook), methods=["POST"]),
            Route("/webhooks/shopify/{channel}", shopify_webhook, methods=["POST"]),
            Route("/health", liveness),
            Route("/admin/status", require(Role.VIEWER, status)),
            Route("/metrics", require(Role.VIEWER, metrics)),
            Route("/admin/jobs/{job}", require(Role.OPERATOR, run_job), methods=["POST"]),
        ],
        middleware=[Middleware(BodySizeLimit, max_bytes=body_limit, on_refused=too_large.inc)],
        lifespan=lifespan,
    )


class _Hub(Starlette):
    """The hub's app: a Clarus delivery (`POST /webhooks/clarus`, the only path taken thousands of
    times a second) goes straight to its handler behind the body limit, without the framework's
    middleware stack and router; everything else goes through them."""

    def __init__(self, *, clarus: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._clarus = clarus

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == CLARUS_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        ):
            await self._clarus(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


class _Asgi:
    """A plain ASGI function as a route's endpoint (Starlette would call a bare function with a Request)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


async def _read_body(receive: Receive) -> bytes | None:
    """The request's whole body, or None if the client disconnected first."""
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    parts = [body]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)
