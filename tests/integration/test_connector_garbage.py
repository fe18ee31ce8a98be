"""Far APIs answering 2xx with garbage: every connector read raises a connector error, never a KeyError,
TypeError or JSON error from inside the hub (docs/security.md, API10).

A stub server plays Clarus and the IMS and answers every request with the same body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.orders import ClarusOrders
from stockbridge.connectors.clarus.webhooks import ClarusWebhooks
from stockbridge.connectors.errors import AuthenticationError, ConnectorError, MalformedResponseError
from stockbridge.connectors.netsuite.auth import BearerAuth, ClientCredentialsAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.fulfilment import NetSuiteFulfilments
from stockbridge.connectors.netsuite.sales_orders import NetSuiteOrders
from stockbridge.servers import serve_in_thread

Call = Callable[[str], Awaitable[Any]]


class Stub:
    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self.answer, methods=methods)])

    async def answer(self, _: Request) -> Response:
        return Response(self.body, status_code=self.status, media_type="application/json")


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[Stub, str]]:
    stub = Stub()
    with serve_in_thread(stub.app) as url:
        yield stub, url


def _clarus(call: Callable[[ClarusClient], Awaitable[Any]]) -> Call:
    async def run(url: str) -> Any:
        client = ClarusClient(url, "key")
        try:
            return await call(client)
        finally:
            await client.aclose()

    return run


def _ims(
    call: Callable[[NetSuiteClient], Awaitable[Any]], auth: Callable[[str], httpx.Auth] | None = None
) -> Call:
    async def run(url: str) -> Any:
        client = NetSuiteClient(url, auth(url) if auth else BearerAuth("token"))
        try:
            return await call(client)
        finally:
            await client.aclose()

    return run


CALLS: dict[str, Call] = {
    "clarus warehouses": _clarus(lambda c: c.warehouses()),
    "clarus snapshot": _clarus(lambda c: c.snapshot_page("WH1", None)),
    "clarus events feed": _clarus(lambda c: c.events_after("WH1", 0)),
    "clarus items": _clarus(lambda c: ClarusOrders(c).items()),
    "clarus subscriptions": _clarus(lambda c: ClarusWebhooks(c).subscriptions()),
    "ims suiteql": _ims(lambda c: c.suiteql("SELECT id FROM item")),
    "ims items": _ims(lambda c: c.inventory_items()),
    "ims on hand": _ims(lambda c: c.on_hand("6", ["1"])),
    "ims changed orders": _ims(lambda c: NetSuiteOrders(c).changed_since(None)),
    "ims sales order": _ims(lambda c: NetSuiteOrders(c).get("1")),
    "ims kits": _ims(lambda c: NetSuiteOrders(c).kits()),
    "ims tracking numbers": _ims(lambda c: NetSuiteFulfilments(c).tracking_numbers("SHP-1")),
    "ims token": _ims(
        lambda c: c.inventory_items(), lambda url: ClientCredentialsAuth(f"{url}/token", "id", "secret")
    ),
}
NOT_JSON_OBJECTS = [b"<html><body>502 Bad Gateway</body></html>", b"", b"[]", b"null", b'"ok"', b"{"]
WRONG_SHAPES = [
    b'{"data": "x", "items": "x", "package": "x", "item": "x"}',
    b'{"data": [1], "items": [1], "package": {"items": [1]}, "item": {"items": [1]}}',
    b'{"data": [{"nope": 1}], "items": [{"nope": 1}], "package": {"items": [{"nope": 1}]},'
    b' "item": {"items": [{}]}}',
    b'{"data": [{"id": null, "sku": []}], "has_more": "maybe", "next_after_sequence": "soon",'
    b' "items": [{"id": "1", "itemid": "A", "isinactive": "F", "item": "1", "quantityonhand": "lots",'
    b' "kit": "K", "member": "M", "quantity": "x", "lastmodifieddate": "t", "line": "first"}],'
    b' "access_token": "t", "expires_in": "never", "id": "1"}',
]


@pytest.mark.parametrize("body", NOT_JSON_OBJECTS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_answer_that_is_not_a_json_object_is_a_malformed_response(
    stub: tuple[Stub, str], name: str, body: bytes
) -> None:
    server, url = stub
    server.status, server.body = 200, body
    with pytest.raises(MalformedResponseError) as info:
        asyncio.run(CALLS[name](url))
    assert info.value.system in ("clarus", "ims")


@pytest.mark.parametrize("body", WRONG_SHAPES)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_answer_of_the_wrong_shape_is_a_connector_error_or_read(
    stub: tuple[Stub, str], name: str, body: bytes
) -> None:
    server, url = stub
    server.status, server.body = 200, body
    with contextlib.suppress(ConnectorError):  # anything else (KeyError, ValueError...) fails the test
        asyncio.run(CALLS[name](url))


def test_a_token_endpoint_refusing_the_credentials_is_an_authentication_error(stub: tuple[Stub, str]) -> None:
    server, url = stub
    server.status, server.body = 401, b'{"error": "invalid_client"}'
    with pytest.raises(AuthenticationError):
        asyncio.run(CALLS["ims token"](url))
