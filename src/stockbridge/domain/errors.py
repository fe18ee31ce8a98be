"""Errors from the far systems, typed by what to do about them (STYLE.md principle 6).

Every connector translates HTTP and transport failures into these at its edge; nothing inside the
hub sees an httpx exception or a raw error body. They live in `domain/` because the flows act on
them through the ports (`flows/ports.py`) without knowing which connector raised them;
`stockbridge.connectors.errors` re-exports them for the connectors.
"""

from __future__ import annotations

from typing import Any


class ConnectorError(Exception):
    """Base of every error a connector raises."""

    def __init__(self, system: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{system}: {message}")
        self.system = system
        self.message = message
        self.status = status


class RetriableError(ConnectorError):
    """Try again later: network failure, timeout, 429, 5xx. `retry_after` is the server's floor."""

    def __init__(
        self, system: str, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(system, message, status=status)
        self.retry_after = retry_after


class RateLimitedError(RetriableError):
    """The far end refused for load (429): concurrency or frequency limit."""


class RejectedError(ConnectorError):
    """The far end refused the content (4xx with a reason). Retrying the same request cannot help.

    `path` is the far end's pointer to the offending field when it gives one (NetSuite's
    `o:errorPath`, e.g. `inventory.items[3].item`).
    """

    def __init__(
        self,
        system: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(system, message, status=status)
        self.code = code
        self.path = path
        self.existing: dict[str, Any] | None = None  # the far end's record when it answers "already exists"


class StaleFigureError(RejectedError):
    """A compare-and-set write found a figure other than the one it expected (Shopify's
    `changeFromQuantity` mismatch): nothing of the call applied. `skus` names the stale lines; read
    them again and recompute, the rest of the batch may go out as planned.
    """

    def __init__(
        self,
        system: str,
        message: str,
        skus: tuple[str, ...],
        *,
        status: int | None = None,
        code: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(system, message, status=status, code=code, path=path)
        self.skus = skus


class AuthenticationError(ConnectorError):
    """Credentials refused (401/403): a person must fix the configuration or the secret."""


class NotFoundError(RejectedError):
    """The record does not exist (404)."""


class MalformedResponseError(RetriableError):
    """The far end answered 2xx with a body that is not the shape its API documents.

    Retried like any transient failure (a proxy's error page with status 200 passes); if it persists,
    connector health raises `connector_failing` for a person. Never a KeyError inside the hub.
    """
