"""The webhook endpoint over real HTTP: signatures, unusable content, durable de-duplicated storage."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.factories import config, movement_event

from stockbridge.api.app import create_app
from stockbridge.connectors.clarus.signature import sign
from stockbridge.engine.clock import FakeClock
from stockbridge.servers import serve_in_thread
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.schema import inbox

SECRET = "whsec-test"


@pytest.fixture
def hub(engine: Engine) -> Iterator[str]:
    app = create_app(engine=engine, config=config(), clock=FakeClock(), clarus_webhook_secret=SECRET)
    with serve_in_thread(app) as url:
        yield url


def _post(url: str, body: bytes, signature: str | None, event_id: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Clarus-Signature"] = signature
    if event_id is not None:
        headers["X-Clarus-Event-Id"] = event_id
    return httpx.post(f"{url}/webhooks/clarus", content=body, headers=headers)


def _inbox_rows(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_signed_event_is_stored_once_however_often_it_arrives(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    for _ in range(3):
        response = _post(hub, body, sign(SECRET.encode(), body), event["id"])
        assert response.status_code == 200
    assert _inbox_rows(engine) == 1
    with engine.connect() as c:
        counters = read_counters(c)
    assert counters["inbox.received"] == 3
    assert counters["inbox.duplicates"] == 2


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "md5=abc", "sha256=short"])
def test_bad_or_missing_signature_is_401_and_stores_nothing(
    hub: str, engine: Engine, signature: str | None
) -> None:
    body = json.dumps(movement_event(1, "SKU-1", {"available": 3})).encode()
    assert _post(hub, body, signature).status_code == 401
    assert _inbox_rows(engine) == 0
    with engine.connect() as c:
        assert list_exceptions(c) == []


def test_body_tampered_after_signing_is_401(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    signature = sign(SECRET.encode(), json.dumps(event).encode())
    event["data"]["balances"][0]["quantity"] = 9
    assert _post(hub, json.dumps(event).encode(), signature).status_code == 401
    assert _inbox_rows(engine) == 0


def test_signed_but_unusable_event_is_kept_as_an_exception(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    del event["data"]["sequence"]
    body = json.dumps(event).encode()
    response = _post(hub, body, sign(SECRET.encode(), body), event["id"])
    assert response.status_code == 422
    assert "sequence" in response.json()["reason"]
    with engine.connect() as c:
        row = c.execute(select(inbox)).one()
        problems = list_exceptions(c)
    assert row.state == "rejected"
    assert "sequence" in row.error
    assert [(p.type, p.owner) for p in problems] == [("bad_webhook", "integration")]


def test_event_id_header_must_match_body(hub: str, engine: Engine) -> None:
    body = json.dumps(movement_event(1, "SKU-1", {"available": 3})).encode()
    assert _post(hub, body, sign(SECRET.encode(), body), "evt_other").status_code == 422


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("balance", 10**20),  # overflows SQLite's integer and PostgreSQL's bigint
        ("balance", -(10**20)),
        ("sequence", 2**63),
    ],
)
def test_numbers_the_store_cannot_hold_are_refused_and_kept_as_an_exception(
    hub: str, engine: Engine, where: str, value: int
) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    if where == "balance":
        event["data"]["balances"][0]["quantity"] = value
    else:
        event["data"]["sequence"] = value
    body = json.dumps(event).encode()
    response = _post(hub, body, sign(SECRET.encode(), body), event["id"])
    assert response.status_code == 422
    with engine.connect() as c:
        row = c.execute(select(inbox)).one()
        problems = list_exceptions(c)
        counters = read_counters(c)
    assert (row.event_id, row.state, json.loads(row.payload)) == (event["id"], "rejected", event)
    assert [(p.type, p.entity, p.owner) for p in problems] == [
        ("bad_webhook", f"clarus:{event['id']}", "integration")
    ]
    assert counters["inbox.rejected"] == 1


def test_an_unusable_webhook_with_an_overlong_id_is_still_kept(hub: str, engine: Engine) -> None:
    body = b'{"id": "x", "type": "inventory.movement"'  # cut short
    response = _post(hub, body, sign(SECRET.encode(), body), "e" * 500)
    assert response.status_code == 422
    with engine.connect() as c:
        row = c.execute(select(inbox)).one()
        [problem] = list_exceptions(c)
    assert (row.state, row.payload) == ("rejected", body.decode())
    assert row.event_id.startswith("unusable:")
    assert problem.type == "bad_webhook"
