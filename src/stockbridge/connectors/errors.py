"""The connectors' errors: defined in `stockbridge.domain.errors`, re-exported for the connectors."""

from __future__ import annotations

from stockbridge.domain.errors import (
    AuthenticationError,
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    RetriableError,
    StaleFigureError,
)

__all__ = [
    "AuthenticationError",
    "ConnectorError",
    "MalformedResponseError",
    "NotFoundError",
    "RateLimitedError",
    "RejectedError",
    "RetriableError",
    "StaleFigureError",
]
