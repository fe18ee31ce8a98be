"""Tracking numbers read back from the IMS simulator, and the webhook notifier over real HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.factories import config

from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.fulfilment import NetSuiteFulfilments
from stockbridge.connectors.notify import WebhookNotifier
from stockbridge.domain.fulfilment import Shipment, ShipmentNotice, ShippedLine
from stockbridge.domain.fulfilment_state import ShipmentState
from stockbridge.engine.clock import SystemClock
from stockbridge.flows.fulfilment_sync import verify_tracking
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app
from stockbridge.store import fulfilment_repo
from stockbridge.store.bookkeeping import list_exceptions


def test_tracking_that_differs_in_the_ims_is_raised(engine: Engine) -> None:
    settings = ImsSettings()
    now = SystemClock().now()
    with serve_in_thread(create_app(settings)) as ims_url:
        httpx.post(f"{ims_url}/_control/items", json={"items": [{"itemId": "MUG-1"}]}).raise_for_status()
        order = {"tranId": "SO1", "lines": [{"itemId": "MUG-1", "quantity": 2}]}
        so_id = httpx.post(f"{ims_url}/_control/sales_orders", json={"orders": [order]}).json()["ids"]["SO1"]
        headers = {"Authorization": f"Bearer {settings.bearer_tokens[0]}"}
        for sid, number in (("SHP-OK", "1ZRIGHT"), ("SHP-BAD", "1ZWRONG")):
            body = {
                "externalId": f"sb-if-{sid}",
                "item": {"items": [{"orderLine": 1, "quantity": 1, "itemreceive": True}]},
                "package": {"items": [{"packageTrackingNumber": number}]},
            }
            url = f"{ims_url}/services/rest/record/v1/salesOrder/{so_id}/!transform/itemFulfillment"
            httpx.post(url, json=body, headers=headers).raise_for_status()
        with engine.begin() as c:
            for sid in ("SHP-OK", "SHP-BAD"):
                shipment = Shipment(
                    sid, "SO1", "UPS", "STD", ("1ZRIGHT",), (ShippedLine("1", "MUG-1", 1),), 1
                )
                fulfilment_repo.add_shipment(c, shipment, now)
                fulfilment_repo.set_state(c, sid, ShipmentState.FULFILLED, now, {1: 1})

        async def verify() -> int:
            client = NetSuiteClient(ims_url, BearerAuth(settings.bearer_tokens[0]))
            try:
                return await verify_tracking(engine, NetSuiteFulfilments(client), config(), SystemClock())
            finally:
                await client.aclose()

        assert asyncio.run(verify()) == 1
    with engine.connect() as c:
        found = [(e.type, e.entity, e.owner) for e in list_exceptions(c)]
    assert found == [("tracking_drift", "shipment:SHP-BAD", "operations")]


def test_webhook_notifier_posts_the_notice_with_an_idempotency_key() -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def hook(request: Request) -> JSONResponse:
        received.append((await request.json(), request.headers.get("idempotency-key")))
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/notices", hook, methods=["POST"])])
    notice = ShipmentNotice("SO1", "SHP-1", "ada@example.com", "Ada", "UPS", "STD", ("1Z1",))
    with serve_in_thread(app) as url:
        asyncio.run(WebhookNotifier(f"{url}/notices").shipment_sent(notice))
    assert received == [
        (
            {
                "type": "shipment.notified",
                "reference": "SO1",
                "shipment_id": "SHP-1",
                "recipient": "ada@example.com",
                "carrier": "UPS",
                "service": "STD",
                "tracking_numbers": ["1Z1"],
            },
            "SHP-1",
        )
    ]
