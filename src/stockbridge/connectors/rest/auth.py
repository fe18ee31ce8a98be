"""Auth strategies that are a header (httpx.Auth): bearer tokens and API-key headers.

Strategies that need a round trip (NetSuite's OAuth 2.0 client credentials) or a signature (NetSuite
TBA) live with their connector (`connectors/netsuite/auth.py`); all are plain `httpx.Auth`, so the
REST base takes any of them.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class HeaderAuth(httpx.Auth):
    """One header carrying a secret on every request (Shopify's `X-Shopify-Access-Token`)."""

    def __init__(self, name: str, value: str) -> None:
        self._name, self._value = name, value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._name] = self._value
        yield request

    def __repr__(self) -> str:  # never the secret
        return f"{type(self).__name__}({self._name!r})"


class BearerAuth(HeaderAuth):
    """`Authorization: Bearer <token>` (Clarus API keys, NetSuite OAuth 2.0 access tokens)."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", f"Bearer {token}")
