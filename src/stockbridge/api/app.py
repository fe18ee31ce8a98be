"""The hub's HTTP surface: signed webhooks in, health and metrics out."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.api.ingest import GroupCommitWriter
from stockbridge.config import Config
from stockbridge.connectors.clarus import signature
from stockbridge.connectors.clarus.wire import SOURCE, UnusableEvent, parse_event
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.engine.schedule import SCHEDULED_JOBS, last_runs, run_soon
from stockbridge.store import fulfilment_repo, inbox_repo, orders_repo, outbox_repo, targets_repo
from stockbridge.store.bookkeeping import count_open_exceptions, raise_exception, read_counters
from stockbridge.store.inbox_repo import InboundEvent
from stockbridge.store.states import InboxState

log = logging.getLogger("stockbridge.api")


def create_app(
    *,
    engine: Engine,
    config: Config,
    clock: Clock,
    clarus_webhook_secret: str,
    on_stored: Callable[[], None] | None = None,
    collectors: Sequence[Collector] = (),
) -> Starlette:
    secret = clarus_webhook_secret.encode()
    writer = GroupCommitWriter(engine, clock, on_stored)
    registry = CollectorRegistry()
    for collector in collectors:  # e.g. the workers' rate limiters, when they run in this process
        registry.register(collector)
    webhooks = Counter(
        "stockbridge_webhooks", "Webhook requests by outcome", ["source", "outcome"], registry=registry
    )
    stored = webhooks.labels(SOURCE, "stored")  # bound once: the hot path should not look labels up

    async def clarus_webhook(request: Request) -> Response:
        body = await request.body()
        if not signature.verify(secret, body, request.headers.get(signature.SIGNATURE_HEADER)):
            webhooks.labels(SOURCE, "bad_signature").inc()
            return JSONResponse({"error": "invalid or missing signature"}, status_code=401)
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
            await writer.store(InboundEvent(SOURCE, event.id, event.type, body.decode()))
        except Exception:
            log.exception("could not store webhook %s", event.id)
            webhooks.labels(SOURCE, "store_failed").inc()
            return JSONResponse({"error": "not stored, retry"}, status_code=503)
        stored.inc()
        return Response(b'{"received":%s}' % json.dumps(event.id).encode(), media_type="application/json")

    async def reject(request: Request, body: bytes, reason: str) -> Response:
        """Signed but unusable: answer with the reason and keep it for inspection as an exception."""
        webhooks.labels(SOURCE, "unusable").inc()
        await in_transaction(engine, lambda c: _keep_unusable(c, request, body, reason))
        return JSONResponse({"error": "unusable event", "reason": reason}, status_code=422)

    def _keep_unusable(connection: Connection, request: Request, body: bytes, reason: str) -> None:
        now = clock.now()
        event_id = request.headers.get(signature.EVENT_ID_HEADER) or f"unusable:{now.isoformat()}"
        inbox_repo.insert_events(
            connection,
            [InboundEvent(SOURCE, event_id, "unusable", body.decode(errors="replace"))],
            now,
            InboxState.REJECTED,
            error=reason,
        )
        raise_exception(
            connection,
            type="bad_webhook",
            entity=f"{SOURCE}:{event_id}",
            owner=config.owners.owner_of("bad_webhook"),
            detail=reason,
            now=now,
            retry_action="inspect the stored body in the inbox (state rejected)",
        )

    async def health(_: Request) -> Response:
        def read(connection: Connection) -> dict[str, Any]:
            return {
                "status": "ok",
                "inbox_pending": inbox_repo.pending_count(connection),
                "dirty_targets": targets_repo.dirty_count(connection),
                "batches": outbox_repo.batches_by_state(connection),
                "orders": orders_repo.counts_by_state(connection),
                "order_commands": orders_repo.commands_by_state(connection),
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
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

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
            Route("/health", health),
            Route("/metrics", metrics),
            Route("/admin/jobs/{job}", run_job, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
