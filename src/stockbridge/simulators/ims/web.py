"""HTTP helpers shared by the record API handlers: paths, media types, bodies, paging links."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request

from . import suiteql
from .errors import invalid_parameter, invalid_request

RECORD = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"
TOKEN = "/services/rest/auth/oauth2/v1/token"
SINGULAR = "application/vnd.oracle.resource+json; type=singular-resource"
COLLECTION = "application/vnd.oracle.resource+json; type=collection"


def canonical_record_path(path: str, record_types: Iterable[str]) -> str:
    """`path` with record type names spelled as the simulator's routes spell them.

    NetSuite takes record type names in any case (Oracle's own Item Fulfilment example posts to
    `/salesorder/{id}/!transform/itemFulfillment`), so the type after `/record/v1/` and the target of
    a `!transform/` are matched without regard to case. Ids, sublists and unknown types are left alone.
    """
    if not path.startswith(RECORD + "/"):
        return path
    canonical = {name.casefold(): name for name in record_types}
    parts = path[len(RECORD) + 1 :].split("/")
    parts[0] = canonical.get(parts[0].casefold(), parts[0])
    for index in range(1, len(parts) - 1):
        if parts[index] == "!transform":
            parts[index + 1] = canonical.get(parts[index + 1].casefold(), parts[index + 1])
    return f"{RECORD}/{'/'.join(parts)}"


def iso(stamp: str | None) -> str | None:
    """A stored 'YYYY-MM-DD HH:MM:SS' (UTC) as a REST timestamp."""
    return None if stamp is None else stamp.replace(" ", "T") + "Z"


def compact(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}  # NetSuite omits empty fields


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise invalid_request(
            "The request could not be understood by the server due to malformed syntax."
        ) from None
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object.")
    return body


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    try:
        return default if raw in (None, "") else int(str(raw))
    except ValueError:
        raise invalid_parameter(f"Invalid value for parameter {name}: {raw}.") from None


def links_for(href: str, params: dict[str, str], total: int, limit: int, offset: int) -> list[dict[str, str]]:
    """NetSuite's paging links (first, previous, next, last, self) for a collection page."""

    def page(at: int) -> str:
        return f"{href}?{urlencode({**params, 'limit': limit, 'offset': at})}"

    bounds = [*suiteql.page_bounds(total, limit, offset), ("self", offset)]
    return [{"rel": rel, "href": page(at)} for rel, at in bounds]
