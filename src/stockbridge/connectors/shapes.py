"""Reading a far API's answer: a body that is not the documented shape is a connector error, never a
crash (docs/security.md, API10).

Wire models (pydantic) validate where the shape is rich; where a connector reads a few keys from a
dict, it does so inside `expect_shape`, which turns the errors a wrong shape raises into
`MalformedResponseError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from stockbridge.connectors.errors import MalformedResponseError

# What reading an unexpected shape raises: a missing key or index, a list where a dict was expected,
# text where a number was, JSON that is not JSON (pydantic's ValidationError is a ValueError).
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


@contextmanager
def expect_shape(system: str, what: str) -> Iterator[None]:
    try:
        yield
    except SHAPE_ERRORS as exc:
        detail = f"{what}: unexpected answer ({type(exc).__name__}: {exc})"
        raise MalformedResponseError(system, detail[:300]) from None


def json_object(system: str, what: str, response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON body, which must be an object."""
    with expect_shape(system, what):
        body = response.json()
        if not isinstance(body, dict):
            raise TypeError(f"expected a JSON object, got {type(body).__name__}")
        return body
