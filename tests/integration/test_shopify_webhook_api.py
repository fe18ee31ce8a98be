"""The Shopify webhook route over real HTTP, against a real database (SQLite and PostgreSQL): who may
deliver, what is stored, what is refused with a reason, what is ignored."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.factories import T0, config

from stockbridge.api.app import create_app
from stockbridge.connectors.shopify.webhooks import sign
from stockbridge.engine.clock import FakeClock
from stockbridge.servers import serve_in_thread
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.schema import inbox

SECRET = b"shopify-secret"
ORDER = json.dumps(
    {
        "id": 5001,
        "name": "#1001",
        "financial_status": "paid",
        "updated_at": "2026-11-30T09:00:00Z",
        "line_items": [{"id": 1, "sku": "MUG-1", "quantity": 1}],
    }
).encode()


@pytest.fixture
def hub(engine: Engine) -> Iterator[str]:
    cfg = config(storefronts={"shop": {"shop_domain": "a.myshopify.com", "orders_route": "clarus"}})
    app = create_app(
        engine=engine,
        config=cfg,
        clock=FakeClock(T0),
        clarus_webhook_secret="clarus",
        storefront_webhook_secrets={"shop": SECRET.decode()},
    )
    with serve_in_thread(app) as url:
        yield f"{url}/webhooks/shopify/shop"


def _post(
    url: str, body: bytes, webhook_id: str | None = "wh-1", topic: str = "orders/create"
) -> httpx.Response:
    headers = {"X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": sign(SECRET, body)}
    if webhook_id is not None:
        headers["X-Shopify-Webhook-Id"] = webhook_id
    return httpx.post(url, content=body, headers=headers)


def _rows(engine: Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as c:
        query = select(inbox.c.source, inbox.c.event_id, inbox.c.kind, inbox.c.state).order_by(inbox.c.id)
        return [tuple(r) for r in c.execute(query)]  # type: ignore[misc]


def test_stored_once_under_the_store_and_its_webhook_id(hub: str, engine: Engine) -> None:
    assert [_post(hub, ORDER).status_code for _ in range(3)] == [200, 200, 200]
    edited = json.dumps({"order_edit": {"id": 9, "order_id": 5001}}).encode()
    assert _post(hub, edited, "wh-2", topic="orders/edited").status_code == 200
    assert _rows(engine) == [
        ("shop", "wh-1", "storefront.order", "pending"),
        ("shop", "wh-2", "storefront.order_edited", "pending"),
    ]


def test_refused_ignored_and_unknown(hub: str, engine: Engine) -> None:
    forged = httpx.post(hub, content=ORDER, headers={"X-Shopify-Hmac-Sha256": sign(b"other", ORDER)})
    assert forged.status_code == 401
    assert httpx.post(hub.replace("/shop", "/other"), content=ORDER).status_code == 404
    assert _post(hub, ORDER, topic="inventory_levels/update").json() == {"ignored": "inventory_levels/update"}
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(inbox)).scalar_one() == 0
    assert _post(hub, ORDER, webhook_id=None).status_code == 422  # no id to de-duplicate by
    assert _post(hub, ORDER, webhook_id="x" * 161).status_code == 422
    assert _post(hub, b'{"id": 5001}', "wh-3").status_code == 422  # not an order
    with engine.connect() as c:
        kinds = {(e.type, e.owner) for e in list_exceptions(c)}
    assert [state for *_, state in _rows(engine)] == ["rejected"] * 3
    assert kinds == {("bad_webhook", "integration")}
