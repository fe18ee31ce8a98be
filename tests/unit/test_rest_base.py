"""The REST connector base (connectors/rest): one translation of refusals, paging strategies that
deliver every record once, the pacer and retries around each request, and the systems' error readers.

The far end here is an `httpx.MockTransport`: these are the base's rules, not a system's (the
conformance suite in tests/conformance runs every connector against its real simulator).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.connectors.clarus.client import read_error as clarus_error
from stockbridge.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.client import read_error as netsuite_error
from stockbridge.connectors.rest import (
    BearerAuth,
    CursorPaging,
    ErrorBody,
    GraphQLCursorPaging,
    HeaderAuth,
    OffsetPaging,
    PageRequest,
    Paging,
    RestClient,
    Retries,
    translate,
)

T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler, **kwargs: Any) -> RestClient:
    return RestClient("far", "http://far.test/api", transport=httpx.MockTransport(handler), **kwargs)


def _run(client: RestClient, call: Callable[[RestClient], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            return await call(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


# --- one translation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, RateLimitedError),
        (503, RetriableError),
        (500, RetriableError),
        (408, RetriableError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (400, RejectedError),
        (409, RejectedError),
        (422, RejectedError),
        (302, RejectedError),
    ],
)
def test_each_status_is_translated_to_the_class_that_says_what_to_do(
    status: int, kind: type[ConnectorError]
) -> None:
    response = httpx.Response(status, headers={"Retry-After": "7"}, json={"error": "x"})
    error = translate("far", response)
    assert type(error) is kind
    assert (error.system, error.status) == ("far", status)
    if isinstance(error, RetriableError):
        assert error.retry_after == 7.0


def test_the_system_reader_gives_code_path_and_the_record_that_exists() -> None:
    def read(response: httpx.Response) -> ErrorBody:
        body = response.json()
        return ErrorBody(body["why"], code=body["code"], path=body["where"], existing={"id": "1"})

    error = translate("far", httpx.Response(409, json={"why": "taken", "code": "dup", "where": "a.b"}), read)
    assert isinstance(error, RejectedError)
    assert (error.code, error.path, error.existing) == ("dup", "a.b", {"id": "1"})
    assert error.message == "409 dup: taken"


@pytest.mark.parametrize("body", [b"<html>502</html>", b"[]", b'{"error": "flat"}', b""])
def test_an_error_body_the_reader_cannot_read_still_translates_by_status(body: bytes) -> None:
    for read in (clarus_error, netsuite_error):
        error = translate("far", httpx.Response(400, content=body), read)
        assert type(error) is RejectedError


def test_netsuite_and_clarus_error_bodies_are_read() -> None:
    ns = httpx.Response(
        400,
        json={
            "title": "Bad Request",
            "o:errorDetails": [
                {"detail": "Invalid item", "o:errorCode": "INVALID_KEY", "o:errorPath": "inventory.items[3]"}
            ],
        },
    )
    assert netsuite_error(ns) == ErrorBody("Invalid item", "INVALID_KEY", "inventory.items[3]")
    clarus = httpx.Response(
        409, json={"error": {"code": "duplicate_reference", "message": "exists"}, "order": {"reference": "R"}}
    )
    assert clarus_error(clarus) == ErrorBody("exists", "duplicate_reference", None, {"reference": "R"})


# --- the request template --------------------------------------------------------------------------


def test_auth_strategies_sign_every_request_and_never_show_the_secret() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={})

    _run(_client(handler, auth=BearerAuth("s3cret")), lambda c: c.json("x", "GET", "/a"))
    _run(
        _client(handler, auth=HeaderAuth("X-Shopify-Access-Token", "shpat")),
        lambda c: c.json("x", "GET", "/a"),
    )
    assert seen[0]["authorization"] == "Bearer s3cret"
    assert seen[1]["x-shopify-access-token"] == "shpat"
    assert "s3cret" not in repr(BearerAuth("s3cret"))


def test_a_2xx_that_is_not_a_json_object_is_malformed() -> None:
    client = _client(lambda r: httpx.Response(200, content=b"<html>ok</html>"))
    with pytest.raises(MalformedResponseError):
        _run(client, lambda c: c.json("thing", "GET", "/a"))


def test_the_answer_check_turns_a_refusal_in_a_200_into_an_error_the_pacer_sees() -> None:
    def check(response: httpx.Response) -> None:
        if response.json().get("errors"):
            raise RateLimitedError("far", "THROTTLED", retry_after=2.0)

    limiter = RateLimiter(10.0, 1, system="far")
    client = _client(lambda r: httpx.Response(200, json={"errors": [1]}), pacer=limiter, check_answer=check)
    with pytest.raises(RateLimitedError):
        _run(client, lambda c: c.json("x", "POST", "/graphql"))
    assert limiter.refusals == 1


def test_retries_wrap_the_paced_call_and_stop_at_a_refusal_of_content() -> None:
    answers = iter(
        [
            httpx.Response(503),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json={"ok": True}),
        ]
    )
    slept: list[float] = []
    now = [0.0]

    async def sleep(seconds: float) -> None:  # moves the limiter's clock: no real waiting
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(1000.0, 1, lambda: now[0], system="far", sleep=sleep)
    client = _client(lambda r: next(answers), pacer=limiter, retries=Retries(sleep=sleep))
    assert _run(client, lambda c: c.json("x", "GET", "/a")) == {"ok": True}
    assert (limiter.calls, limiter.refusals) == (3, 1)
    assert any(s >= 1.0 for s in slept)  # the Retry-After was honoured

    refusals = iter([httpx.Response(400, json={}), httpx.Response(200, json={})])
    client = _client(lambda r: next(refusals), retries=Retries(sleep=sleep))
    with pytest.raises(RejectedError):
        _run(client, lambda c: c.json("x", "GET", "/a"))


def test_a_hanging_far_end_is_cut_at_the_whole_call_deadline() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    client = RestClient("far", "http://far.test", timeout_s=0.05, transport=httpx.MockTransport(handler))
    with pytest.raises(RetriableError, match="timeout"):
        _run(client, lambda c: c.json("x", "GET", "/a"))


# --- paging ----------------------------------------------------------------------------------------


def _cursor_api(records: list[int], size: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor") or 0)
        nxt = start + size if start + size < len(records) else None
        return httpx.Response(
            200, json={"data": records[start : start + size], "next_cursor": nxt and str(nxt)}
        )

    return handler


def _offset_api(records: list[int]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        page = [{"n": n, "links": []} for n in records[offset : offset + limit]]
        return httpx.Response(200, json={"items": page, "hasMore": offset + limit < len(records)})

    return handler


def _graphql_api(records: list[int], size: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        after = json.loads(request.content)["variables"].get("after")
        start = int(after or 0)
        end = start + size
        connection = {
            "edges": [{"node": {"n": n}} for n in records[start:end]],
            "pageInfo": {"hasNextPage": end < len(records), "endCursor": str(end)},
        }
        return httpx.Response(200, json={"data": {"things": connection}})

    return handler


async def _everything(client: RestClient, paging: Paging, base: PageRequest) -> list[Any]:
    found: list[Any] = []
    async for page in client.pages("things", paging, base):
        found.extend(page.records)
    return found


@settings(max_examples=30, deadline=None)
@given(count=st.integers(0, 40), size=st.integers(1, 7))
def test_every_paging_strategy_delivers_each_record_once(count: int, size: int) -> None:
    records = list(range(count))
    cases: list[tuple[Handler, Paging, PageRequest]] = [
        (_cursor_api(records, size), CursorPaging(), PageRequest("GET", "/things", {"limit": size})),
        (_offset_api(records), OffsetPaging(size), PageRequest("POST", "/suiteql", json={"q": "x"})),
        (
            _graphql_api(records, size),
            GraphQLCursorPaging(("data", "things")),
            PageRequest("POST", "/graphql.json", json={"query": "q", "variables": {"first": size}}),
        ),
    ]
    for handler, paging, base in cases:
        found = _run(_client(handler), lambda c, p=paging, b=base: _everything(c, p, b))  # type: ignore[misc]
        numbers = [r["n"] if isinstance(r, dict) else r for r in found]
        assert numbers == records, type(paging).__name__


def test_a_cursor_that_does_not_move_is_malformed_not_an_endless_loop() -> None:
    client = _client(lambda r: httpx.Response(200, json={"data": [1], "next_cursor": "same"}))

    async def two_pages(c: RestClient) -> None:
        first = await c.page("things", CursorPaging(), PageRequest("GET", "/t"))
        await c.page("things", CursorPaging(), PageRequest("GET", "/t"), first.next_token)

    with pytest.raises(MalformedResponseError):
        _run(client, two_pages)


def test_a_page_whose_records_are_not_a_list_is_malformed() -> None:
    client = _client(lambda r: httpx.Response(200, json={"data": "x"}))
    with pytest.raises(MalformedResponseError):
        _run(client, lambda c: c.page("things", CursorPaging(), PageRequest("GET", "/t")))


def test_a_system_can_name_other_statuses_that_need_a_person() -> None:
    frozen = httpx.Response(402, json={"errors": "Unavailable Shop"})
    assert type(translate("shopify", frozen)) is RejectedError
    shopify = frozenset({401, 402, 403, 423})
    assert type(translate("shopify", frozen, needs_person=shopify)) is AuthenticationError
