"""The webhook endpoint fuzzed over real HTTP: whatever arrives, signed or not, the answer is never a 5xx
and the hub still serves and stores afterwards (docs/security.md, API4 and API8)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from tests.factories import T0, config, movement_event

from stockbridge.api.app import create_app
from stockbridge.connectors.clarus.signature import sign
from stockbridge.engine.clock import FakeClock
from stockbridge.servers import serve_in_thread
from stockbridge.store.schema import inbox

SECRET = b"whsec-fuzz"
NOW = int(T0.timestamp())
ANSWERS = {200, 401, 413, 422}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()  # NaN and Infinity come out as JSON no parser should accept
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Where a value may be swapped for anything, in each kind of Clarus event.
FIELDS: list[tuple[str | int, ...]] = [
    ("id",),
    ("type",),
    ("data",),
    ("data", "warehouse_id"),
    ("data", "sequence"),
    ("data", "occurred_at"),
    ("data", "sku"),
    ("data", "quantity"),
    ("data", "balances"),
    ("data", "balances", 0, "status"),
    ("data", "balances", 0, "quantity"),
    ("data", "reference"),
    ("data", "status"),
    ("data", "shipment_id"),
    ("data", "lines"),
]
TYPES = ["inventory.movement", "order.status_changed", "order.updated", "shipment.despatched", "other"]
header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, exclude_characters="\x7f", exclude_categories=("Cs",)),
    max_size=300,
).map(lambda text: text.strip().encode())


@st.composite
def events(draw: st.DrawFn) -> bytes:
    event: dict[str, Any] = movement_event(draw(st.integers(0, 10**6)), "SKU-1", {"available": 3})
    event["type"] = draw(st.sampled_from(TYPES))
    event["data"].update(reference="SO1", status="released", shipment_id="S1", lines=[])
    for path in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        node: Any = event
        for step in path[:-1]:
            node = node[step] if isinstance(node, dict | list) and _has(node, step) else None
        if isinstance(node, dict | list) and _has(node, path[-1]):
            node[path[-1]] = draw(json_values)
    body = json.dumps(event).encode()
    if draw(st.booleans()):  # raw bytes, invalid UTF-8 among them, inside a JSON string
        body = body.replace(b"SKU-1", draw(st.binary(min_size=1, max_size=8)), 1)
    return body


def _has(node: dict[Any, Any] | list[Any], step: str | int) -> bool:
    return step in node if isinstance(node, dict) else isinstance(step, int) and step < len(node)


bodies = st.one_of(st.binary(max_size=512), json_values.map(lambda v: json.dumps(v).encode()), events())


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, bytes]]:
    body = draw(bodies)
    headers = {"Content-Type": b"application/json"}
    mode = draw(st.sampled_from(["signed", "unsigned", "garbage"]))
    if mode == "signed":
        at = NOW + draw(st.sampled_from([0, -300, 299, -301, 10**6, -NOW]))
        headers["X-Clarus-Timestamp"] = str(at).encode()
        headers["X-Clarus-Signature"] = sign(SECRET, body, at).encode()
    elif mode == "garbage":
        headers["X-Clarus-Timestamp"] = draw(header_text)
        headers["X-Clarus-Signature"] = draw(header_text)
    event_id = draw(st.sampled_from(["none", "body", "any"]))
    if event_id == "any":
        headers["X-Clarus-Event-Id"] = draw(header_text)
    elif event_id == "body":
        try:
            found = json.loads(body).get("id")
        except (ValueError, AttributeError):
            found = None
        if isinstance(found, str) and found.isascii() and found.isprintable():
            headers["X-Clarus-Event-Id"] = found.strip().encode()
    return body, headers


@pytest.fixture
def hub(engine: Engine) -> Iterator[httpx.Client]:
    app = create_app(
        engine=engine, config=config(), clock=FakeClock(T0), clarus_webhook_secret=SECRET.decode()
    )
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def _answer_anything(hub: httpx.Client, request: tuple[bytes, dict[str, bytes]]) -> None:
    body, headers = request
    response = hub.post("/webhooks/clarus", content=body, headers=headers)
    assert response.status_code in ANSWERS, (response.status_code, response.text)


def test_fuzzed_webhooks_never_get_a_5xx_and_the_hub_still_serves(hub: httpx.Client, engine: Engine) -> None:
    _answer_anything(hub)  # every example, against one running hub
    assert hub.get("/health").json() == {"status": "ok"}
    event = movement_event(10**7, "SKU-AFTER", {"available": 1})
    body = json.dumps(event).encode()
    headers = {"X-Clarus-Timestamp": str(NOW), "X-Clarus-Signature": sign(SECRET, body, NOW)}
    assert hub.post("/webhooks/clarus", content=body, headers=headers).status_code == 200
    with engine.connect() as c:
        stored = c.execute(select(func.count()).select_from(inbox).where(inbox.c.event_id == event["id"]))
        assert stored.scalar_one() == 1
