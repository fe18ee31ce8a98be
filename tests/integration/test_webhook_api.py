"""The webhook endpoint over real HTTP: signatures, unusable content, durable de-duplicated storage."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, func, select
from tests.factories import T0, config, movement_event

from stockbridge.api.app import create_app
from stockbridge.connectors.clarus.signature import sign
from stockbridge.engine.clock import FakeClock
from stockbridge.servers import serve_in_thread
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.schema import inbox

SECRET = "whsec-test"
NOW = int(T0.timestamp())  # the hub's clock


@pytest.fixture
def hub(engine: Engine) -> Iterator[str]:
    app = create_app(engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret=SECRET)
    with serve_in_thread(app) as url:
        yield url


def _post(
    url: str,
    body: bytes,
    signature: str | bytes | None,
    event_id: str | None = None,
    timestamp: int | bytes = NOW,
) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Clarus-Signature"] = signature
        headers["X-Clarus-Timestamp"] = timestamp if isinstance(timestamp, bytes) else str(timestamp)
    if event_id is not None:
        headers["X-Clarus-Event-Id"] = event_id
    return httpx.post(f"{url}/webhooks/clarus", content=body, headers=headers)


def _sign(body: bytes, timestamp: int = NOW) -> str:
    return sign(SECRET.encode(), body, timestamp)


def _inbox_rows(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(inbox)).scalar_one())


def test_signed_event_is_stored_once_however_often_it_arrives(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    for _ in range(3):
        response = _post(hub, body, _sign(body), event["id"])
        assert response.status_code == 200
    assert _inbox_rows(engine) == 1
    with engine.connect() as c:
        counters = read_counters(c)
    assert counters["inbox.received"] == 3
    assert counters["inbox.duplicates"] == 2


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "sha256=" + "0" * 64,
        "md5=abc",
        "sha256=short",
        "sha256=é".encode(),
        b"sha256=" + "é".encode() * 32,
    ],
)
def test_bad_or_missing_signature_is_401_and_stores_nothing(
    hub: str, engine: Engine, signature: str | bytes | None
) -> None:
    body = json.dumps(movement_event(1, "SKU-1", {"available": 3})).encode()
    assert _post(hub, body, signature).status_code == 401
    assert _inbox_rows(engine) == 0
    with engine.connect() as c:
        assert list_exceptions(c) == []


def test_body_tampered_after_signing_is_401(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    signature = _sign(json.dumps(event).encode())
    event["data"]["balances"][0]["quantity"] = 9
    assert _post(hub, json.dumps(event).encode(), signature).status_code == 401
    assert _inbox_rows(engine) == 0


def test_signed_but_unusable_event_is_kept_as_an_exception(hub: str, engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    del event["data"]["sequence"]
    body = json.dumps(event).encode()
    response = _post(hub, body, _sign(body), event["id"])
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
    assert _post(hub, body, _sign(body), "evt_other").status_code == 422


def test_signature_covers_the_timestamp(hub: str, engine: Engine) -> None:
    body = json.dumps(movement_event(1, "SKU-1", {"available": 3})).encode()
    legacy = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # body only
    assert _post(hub, body, legacy).status_code == 401
    assert _post(hub, body, _sign(body, NOW - 1), timestamp=NOW).status_code == 401  # timestamp changed
    assert _post(hub, body, _sign(body), timestamp="١٢٣".encode()).status_code == 401  # not ASCII digits
    assert _inbox_rows(engine) == 0


@pytest.mark.parametrize("skew_s", [-301, 301, -(10**9)])
def test_delivery_outside_the_replay_window_is_401_and_raises_clock_skew(
    hub: str, engine: Engine, skew_s: int
) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    at = NOW + skew_s
    response = _post(hub, body, _sign(body, at), event["id"], timestamp=at)
    assert response.status_code == 401
    assert "window" in response.json()["error"]
    assert _inbox_rows(engine) == 0
    with engine.connect() as c:
        problems = list_exceptions(c)
    assert [(p.type, p.entity, p.owner) for p in problems] == [
        ("webhook_clock_skew", "clarus", "integration")
    ]
    assert f"{skew_s:+d} s" in problems[0].detail


@pytest.mark.parametrize("skew_s", [-300, 299])
def test_delivery_inside_the_replay_window_is_stored(hub: str, engine: Engine, skew_s: int) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    at = NOW + skew_s
    assert _post(hub, body, _sign(body, at), event["id"], timestamp=at).status_code == 200
    assert _inbox_rows(engine) == 1


def test_tolerance_is_configured(engine: Engine) -> None:
    settings = config(connectors__clarus__webhook_tolerance_s=900)
    app = create_app(engine=engine, config=settings, clock=FakeClock(T0), clarus_webhook_secret=SECRET)
    body = json.dumps(movement_event(1, "SKU-1", {"available": 3})).encode()
    with serve_in_thread(app) as url:
        assert _post(url, body, _sign(body, NOW - 600), timestamp=NOW - 600).status_code == 200
        assert _post(url, body, _sign(body, NOW - 901), timestamp=NOW - 901).status_code == 401


LIMIT = 1_048_576  # hub.max_body_bytes by default


def _oversize_event() -> bytes:
    event = movement_event(1, "SKU-1", {"available": 3})
    event["data"]["reference"] = "x" * LIMIT
    return json.dumps(event).encode()


def test_oversize_unsigned_body_is_413(hub: str, engine: Engine) -> None:
    response = _post(hub, b"x" * 10_000_000, None)
    assert response.status_code == 413
    assert _inbox_rows(engine) == 0


def test_oversize_signed_body_is_413_and_nothing_is_stored(hub: str, engine: Engine) -> None:
    body = _oversize_event()
    response = _post(hub, body, _sign(body), "evt_WH1_000000000001")
    assert response.status_code == 413
    assert _inbox_rows(engine) == 0
    with engine.connect() as c:
        assert list_exceptions(c) == []


def test_oversize_chunked_body_is_413(hub: str, engine: Engine) -> None:
    body = _oversize_event()

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent with Transfer-Encoding: chunked
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    response = httpx.post(
        f"{hub}/webhooks/clarus",
        content=chunks(),
        headers={"X-Clarus-Signature": _sign(body), "X-Clarus-Timestamp": str(NOW)},
    )
    assert response.status_code == 413
    assert _inbox_rows(engine) == 0


def test_body_at_the_limit_is_read(engine: Engine) -> None:
    app = create_app(
        engine=engine,
        config=config(hub__max_body_bytes=100),
        clock=FakeClock(T0),
        clarus_webhook_secret=SECRET,
    )
    with serve_in_thread(app) as url:
        assert _post(url, b"x" * 100, None).status_code == 401  # read and refused for its signature
        assert _post(url, b"x" * 101, None).status_code == 413


class _Upload:
    """An ASGI request body fed in chunks, counting how many the app pulled."""

    def __init__(self, size: int, chunk: int) -> None:
        self.left, self.chunk, self.pulled = size, chunk, 0

    async def receive(self) -> dict[str, object]:
        self.pulled += 1
        part = min(self.chunk, self.left)
        self.left -= part
        return {"type": "http.request", "body": b"x" * part, "more_body": self.left > 0}


def _call(engine: Engine, upload: _Upload, headers: list[tuple[bytes, bytes]]) -> int:
    app = create_app(engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret=SECRET)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/clarus",
        "raw_path": b"/webhooks/clarus",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(app(scope, upload.receive, send))  # type: ignore[arg-type]
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status


def test_oversize_body_is_refused_before_it_is_read(engine: Engine) -> None:
    declared = _Upload(10_000_000, 65_536)
    assert _call(engine, declared, [(b"content-length", b"10000000")]) == 413
    assert declared.pulled == 0  # refused by its Content-Length alone
    streamed = _Upload(10_000_000, 65_536)
    assert _call(engine, streamed, [(b"transfer-encoding", b"chunked")]) == 413
    assert streamed.pulled == LIMIT // 65_536 + 1  # stopped at the first chunk past the limit


def test_unusable_body_with_nul_bytes_and_a_long_event_id_is_kept(hub: str, engine: Engine) -> None:
    body = b'{"id": "evt\x00", "type": "inventory.movement"}\x00'
    response = _post(hub, body, _sign(body), "e" * 300)
    assert response.status_code == 422
    with engine.connect() as c:
        row = c.execute(select(inbox)).one()
        problems = list_exceptions(c)
    assert row.state == "rejected"
    assert row.event_id.startswith("unusable:")
    assert "\x00" not in row.payload
    assert [p.entity for p in problems] == [f"clarus:{row.event_id}"]


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
    response = _post(hub, body, _sign(body), event["id"])
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
    response = _post(hub, body, _sign(body), "e" * 500)
    assert response.status_code == 422
    with engine.connect() as c:
        row = c.execute(select(inbox)).one()
        [problem] = list_exceptions(c)
    assert (row.state, row.payload) == ("rejected", body.decode())
    assert row.event_id.startswith("unusable:")
    assert problem.type == "bad_webhook"


def _asgi(
    engine: Engine, method: str, parts: list[bytes], headers: list[tuple[bytes, bytes]], root_path: str = ""
) -> tuple[int, bytes]:
    """One request straight into the app, its body in `parts` (one ASGI message each)."""
    app = create_app(engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret=SECRET)
    path = f"{root_path}/webhooks/clarus"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    left = list(parts)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": left.pop(0) if left else b"", "more_body": len(left) > 0}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def scenario() -> None:
        async with app.router.lifespan_context(app):  # the group commit's writer runs meanwhile
            await app(scope, receive, send)  # type: ignore[arg-type]

    asyncio.run(scenario())
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status, b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]


def _signed_headers(body: bytes, event_id: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-clarus-signature", _sign(body).encode()), (b"x-clarus-timestamp", str(NOW).encode())]
    return headers + ([(b"x-clarus-event-id", event_id.encode())] if event_id else [])


def test_a_body_in_several_messages_is_read_whole_and_the_answer_names_the_event(engine: Engine) -> None:
    event = movement_event(1, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    parts = [body[i : i + 16] for i in range(0, len(body), 16)]
    status, answer = _asgi(engine, "POST", parts, _signed_headers(body))  # no X-Clarus-Event-Id
    assert (status, json.loads(answer)) == (200, {"received": event["id"]})
    assert _inbox_rows(engine) == 1


def test_under_a_root_path_the_webhook_goes_through_the_framework_alike(engine: Engine) -> None:
    """The fast path is for the hub served at its root; under a prefix the router's route (the
    same handler) answers: stored when signed, 401 when not, 405 for another method."""
    event = movement_event(2, "SKU-1", {"available": 3})
    body = json.dumps(event).encode()
    signed = _signed_headers(body, event["id"])
    assert _asgi(engine, "POST", [body], signed, root_path="/hub") == (
        200,
        b'{"received":"%s"}' % event["id"].encode(),
    )
    assert _asgi(engine, "POST", [body], signed[1:], root_path="/hub")[0] == 401
    assert _asgi(engine, "GET", [b""], [], root_path="/hub")[0] == 405
    assert _asgi(engine, "GET", [b""], [])[0] == 405
    assert _inbox_rows(engine) == 1
