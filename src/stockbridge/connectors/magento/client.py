"""Magento 2 REST client: integration-token bearer, `searchCriteria` searches paged to `total_count`,
Magento's error bodies read, reads retried with backoff.

`{base_url}/rest/{store_code}/V1/...` (../shared/reference/magento.md), sent through the REST base
(`connectors/rest`, decision 0017): `BearerAuth` with the integration's access token, the caller's
pacer (the adaptive `RateLimiter`: a 429 from the host in front of Magento pauses it until
`Retry-After`), one translation of refusals with `read_error`. Reads (GET) are retried here, with
backoff never sooner than `Retry-After`; writes are not, since a write retried blindly after an
answer was lost could apply twice: the callers make their writes safe to repeat (absolute source
item quantities; shipments read back before they are made) and retry them through their outbox.

| answer | error |
|---|---|
| transport failure, timeout, 408, 5xx | `RetriableError` (with `Retry-After`) |
| 429 (the host's rate limit) | `RateLimitedError` (with `Retry-After`) |
| 401 (`The consumer isn't authorized to access %resources.`), 403 | `AuthenticationError` |
| 404 | `NotFoundError` |
| other 4xx (`{"message", "parameters"}`) | `RejectedError`, the message with its parameters put in |
| 2xx that is not the documented shape | `MalformedResponseError` |
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest import BearerAuth, CallStats, ErrorBody, PageRequest, RestClient, Retries
from stockbridge.connectors.rest.paging import Token
from stockbridge.connectors.shapes import expect_shape

SYSTEM = "magento"
PAGE_SIZE = 100  # under the 300 a 2.4.7+ store allows by default (webapi/validation/maximum_page_size)
_PLACEHOLDER = re.compile(r"%(\w+)")

# One condition of a search: (field, value, condition_type). A filter group ORs its conditions; the
# groups are ANDed (Magento's searchCriteria).
Condition = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class SearchCriteriaPaging:
    """`searchCriteria[pageSize]` and `[currentPage]` (from 1); the last page is the one that reaches
    `total_count`. Magento answers a page past the last with the last page again, so "page until an
    empty page" would never end: the count decides."""

    page_size: int = PAGE_SIZE

    def request(self, base: PageRequest, token: Token | None) -> PageRequest:
        page = {"searchCriteria[pageSize]": self.page_size, "searchCriteria[currentPage]": int(token or 1)}
        return replace(base, params={**base.params, **page})

    def records(self, body: dict[str, Any]) -> list[Any]:
        items = body.get("items") or []  # PHP may write an empty list as null
        if not isinstance(items, list):
            raise TypeError(f"items is a {type(items).__name__}, not a list")
        return items

    def next_token(self, body: dict[str, Any], token: Token | None, records: Sequence[Any]) -> Token | None:
        page = int(token or 1)
        total = int(body["total_count"])
        if not records or (page - 1) * self.page_size + len(records) >= total:
            return None
        return page + 1


def search_params(
    groups: Sequence[Sequence[Condition]], sort: Sequence[tuple[str, str]] = ()
) -> dict[str, str]:
    """The query parameters of a search (httpx URL-encodes the brackets)."""
    params: dict[str, str] = {}
    for g, group in enumerate(groups):
        for f, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params[f"{prefix}[field]"] = field
            params[f"{prefix}[value]"] = value
            params[f"{prefix}[condition_type]"] = condition
    for s, (field, direction) in enumerate(sort):
        params[f"searchCriteria[sortOrders][{s}][field]"] = field
        params[f"searchCriteria[sortOrders][{s}][direction]"] = direction
    return params


class MagentoClient:
    """`system` names the channel in every error (a store configured as `magento_eu` fails as that)."""

    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        store_code: str = "all",
        system: str = SYSTEM,
        timeout_s: float = 30.0,
        limiter: RateLimiter | None = None,
        read_retries: Retries | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: CallStats | None = None,
    ) -> None:
        self.system = system
        self.base_url = base_url.rstrip("/")  # the store's address, before /rest/<store_code>/V1
        self.limiter = limiter
        self._read_retries = Retries() if read_retries is None else read_retries
        prefix = "/rest/V1" if store_code == "default" else f"/rest/{store_code}/V1"
        self._rest = RestClient(
            system,
            base_url.rstrip("/") + prefix,
            auth=BearerAuth(access_token),
            headers={"Accept": "application/json"},
            timeout_s=timeout_s,
            pacer=limiter,
            read_error=read_error,
            transport=transport,
            stats=stats,
        )

    async def aclose(self) -> None:
        await self._rest.aclose()

    def budget_wait(self) -> float:
        return 0.0 if self.limiter is None else self.limiter.wait_s()

    async def get(self, what: str, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read (retried on retriable failures); its JSON answer."""

        async def once() -> Any:
            response = await self._rest.request("GET", path, params=params or {})
            with expect_shape(self.system, what):
                return response.json()

        return await self._read_retries(once)

    async def post(self, what: str, path: str, body: Any = None) -> Any:
        """A write, sent once; its JSON answer."""
        response = await self._rest.request("POST", path, json=body if body is not None else {})
        with expect_shape(self.system, what):
            return response.json()

    async def search(
        self,
        what: str,
        path: str,
        groups: Sequence[Sequence[Condition]] = (),
        *,
        sort: Sequence[tuple[str, str]] = (),
        page_size: int = PAGE_SIZE,
    ) -> list[dict[str, Any]]:
        """Every record a search finds, page by page to `total_count`."""
        paging = SearchCriteriaPaging(page_size)
        base = PageRequest("GET", path, search_params(groups, sort))
        found: list[dict[str, Any]] = []
        token: Token | None = None
        while True:
            wanted = paging.request(base, token)
            body = await self.get(what, wanted.path, wanted.params)
            with expect_shape(self.system, what):
                if not isinstance(body, dict):
                    raise TypeError(f"expected a JSON object, got {type(body).__name__}")
                records = paging.records(body)
                token = paging.next_token(body, token, records)
                found.extend(dict(r) for r in records)
            if token is None:
                return found


def read_error(response: httpx.Response) -> ErrorBody:
    """Magento's `{"message", "parameters"}` with the parameters put into the message (`%1` from a
    list, `%name` from an object), and the `errors` of a "Validation Failed" after it."""
    body = response.json()
    text = said(body["message"], body.get("parameters"))
    details = [said(e.get("message", ""), e.get("parameters")) for e in body.get("errors") or []]
    return ErrorBody(f"{text}: {'; '.join(details)}" if details else text)


def said(message: Any, parameters: Any) -> str:
    text = str(message)
    if isinstance(parameters, list):
        return _PLACEHOLDER.sub(lambda m: _nth(parameters, m.group(1), m.group(0)), text)
    if isinstance(parameters, dict):
        return _PLACEHOLDER.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), text)
    return text


def _nth(parameters: list[Any], name: str, placeholder: str) -> str:
    if name.isdigit() and 0 < int(name) <= len(parameters):
        return str(parameters[int(name) - 1])
    return placeholder
