"""The request template every REST connector sends through.

One request, in order: the retry strategy (if any) around the pacing strategy around one attempt;
an attempt builds the request, lets the auth strategy (an `httpx.Auth`) sign it, sends it with a
deadline on the whole call, and turns a refusal into the hub's error classes (`failures.translate`
with the system's `ErrorReader`) and a 2xx through the system's `AnswerCheck` (a GraphQL error in a
200). Because the refusal is raised inside the pacer, the pacer sees every 429 and `Retry-After`.

Listings page through a `Paging` strategy (`paging.py`). What a system's answers mean (which keys,
which domain types) stays in its connector.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

import httpx

from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.http import send
from stockbridge.connectors.rest.calls import CallStats
from stockbridge.connectors.rest.failures import NEEDS_PERSON, ErrorReader, plain_error, translate
from stockbridge.connectors.rest.paging import Page, PageRequest, Paging, Token
from stockbridge.connectors.rest.retry import Retries
from stockbridge.connectors.shapes import expect_shape, json_object

T = TypeVar("T")

# Reads a 2xx answer and raises a connector error when it is a refusal in disguise (GraphQL errors).
AnswerCheck = Callable[[httpx.Response], None]


class Pacer(Protocol):
    """A rate-limit strategy: runs a call when the far end's budget allows it, and learns from what
    the call raised (`connectors/http.py` `RateLimiter`; Shopify's cost bucket is another)."""

    async def run(self, call: Callable[[], Awaitable[T]]) -> T: ...


class RestClient:
    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
        pacer: Pacer | None = None,
        retries: Retries | None = None,
        read_error: ErrorReader = plain_error,
        check_answer: AnswerCheck | None = None,
        needs_person: frozenset[int] = NEEDS_PERSON,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self.system = system
        self.pacer = pacer
        self.stats = stats  # every attempt counted: answered, failed or throttled (connector health)
        self._timeout_s = timeout_s
        self._retries = retries
        self._read_error = read_error
        self._check_answer = check_answer
        self._needs_person = needs_person
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout_s,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a 2xx answer comes back, anything else raises a connector error."""

        async def paced() -> httpx.Response:
            if self.pacer is None:
                return await self._attempt(method, path, kwargs)
            return await self.pacer.run(lambda: self._attempt(method, path, kwargs))

        if self._retries is None:
            return await paced()
        return await self._retries(paced)

    async def _attempt(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        request = self._http.build_request(method, path, **kwargs)
        try:
            response = await send(self._http, self.system, request, deadline_s=self._timeout_s)
            if response.status_code >= 300:
                raise translate(self.system, response, self._read_error, needs_person=self._needs_person)
        except ConnectorError as exc:
            if self.stats is not None:
                self.stats.error(exc)
            raise
        if self.stats is not None:
            self.stats.answered()
        if self._check_answer is not None:
            self._check_answer(response)
        return response

    async def json(self, what: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Send one request whose answer must be a JSON object (else `MalformedResponseError`)."""
        return json_object(self.system, what, await self.request(method, path, **kwargs))

    async def page(self, what: str, paging: Paging, base: PageRequest, token: Token | None = None) -> Page:
        """One page of a listing: its records, the next page's token and the whole answer."""
        wanted = paging.request(base, token)
        body = await self.json(
            what, wanted.method, wanted.path, params=wanted.params, json=wanted.json, headers=wanted.headers
        )
        with expect_shape(self.system, what):
            records = paging.records(body)
            return Page(records, paging.next_token(body, token, records), body)

    async def pages(
        self, what: str, paging: Paging, base: PageRequest, token: Token | None = None
    ) -> AsyncIterator[Page]:
        """Every page of a listing from `token` (None: the first) to the last."""
        while True:
            page = await self.page(what, paging, base, token)
            yield page
            if page.next_token is None:
                return
            token = page.next_token
