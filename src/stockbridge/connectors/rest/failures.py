"""The one translation of a far end's HTTP refusal into the hub's error classes.

Each system says why in its own body (NetSuite's `o:errorDetails`, Clarus's `{"error": {...}}`,
Shopify's GraphQL `errors`); a connector gives an `ErrorReader` for that, and the status decides
what to do about it, the same way for every system:

| status | error |
|---|---|
| 429 | `RateLimitedError`, with `Retry-After` |
| 408, 5xx | `RetriableError`, with `Retry-After` when given |
| 401, 403 (and any other status the system says needs a person) | `AuthenticationError` |
| 404 | `NotFoundError` (a `RejectedError`) |
| any other (4xx, an unfollowed 3xx) | `RejectedError`, with the far end's code and field path |

Transport failures and timeouts are `RetriableError` already (`connectors/http.py` `send`); a 2xx
that is not the documented shape is `MalformedResponseError` (`connectors/shapes.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.http import parse_retry_after
from stockbridge.connectors.shapes import SHAPE_ERRORS

MAX_DETAIL = 300  # characters of the far end's words kept in a message
NEEDS_PERSON = frozenset({401, 403})  # Shopify adds 402 (shop frozen) and 423 (shop locked)


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """What a far end said about a refusal, read from its error body."""

    message: str
    code: str | None = None
    path: str | None = None  # the far end's pointer to the offending field
    existing: dict[str, Any] | None = None  # the far end's record, when it answers "already exists"


ErrorReader = Callable[[httpx.Response], ErrorBody]


def plain_error(response: httpx.Response) -> ErrorBody:
    """The reader for a system with no error body worth reading: the start of the text."""
    return ErrorBody(response.text[:MAX_DETAIL])


def translate(
    system: str,
    response: httpx.Response,
    read: ErrorReader = plain_error,
    *,
    needs_person: frozenset[int] = NEEDS_PERSON,
) -> ConnectorError:
    """A refused answer (status 300 or more) as the error class that says what to do about it."""
    try:
        said = read(response)
    except SHAPE_ERRORS:  # an error body that is not the documented shape still says its status
        said = plain_error(response)
    status = response.status_code
    text = str(said.message)[:MAX_DETAIL]
    message = f"{status} {said.code}: {text}" if said.code else f"{status}: {text}"
    if status == 429 or status >= 500 or status == 408:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        kind = RateLimitedError if status == 429 else RetriableError
        return kind(system, message, status=status, retry_after=retry_after)
    if status in needs_person:
        return AuthenticationError(system, message, status=status)
    kind_rejected = NotFoundError if status == 404 else RejectedError
    refused = kind_rejected(system, message, status=status, code=said.code, path=said.path)
    refused.existing = said.existing
    return refused
