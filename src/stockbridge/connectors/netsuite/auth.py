"""NetSuite authentication as httpx auth strategies: OAuth 2.0 bearer, client credentials, TBA.

TBA is OAuth 1.0a with HMAC-SHA256 and the account id as realm (upper case, `_SB1` for a sandbox),
signed by oauthlib. JSON bodies are not part of an OAuth 1.0a signature (RFC 5849 section 3.4.1.3).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

from stockbridge.connectors.errors import AuthenticationError
from stockbridge.connectors.netsuite.client import SYSTEM, read_error
from stockbridge.connectors.rest import BearerAuth, translate
from stockbridge.connectors.shapes import expect_shape, json_object

__all__ = ["BearerAuth", "ClientCredentialsAuth", "TbaAuth"]


class ClientCredentialsAuth(httpx.Auth):
    """Fetches an access token from the token endpoint, caches it, and refreshes it on expiry or 401."""

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str) -> None:
        self._token_url = token_url
        self._credentials = (client_id, client_secret)
        self._token: str | None = None
        self._expires_at = 0.0

    def _token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST",
            self._token_url,
            data={"grant_type": "client_credentials"},
            headers={"Authorization": httpx.BasicAuth(*self._credentials)._auth_header},
        )

    def _remember(self, response: httpx.Response) -> None:
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise translate(SYSTEM, response, read_error)
        if status >= 300:  # the token endpoint refuses bad client credentials with 400 or 401
            raise AuthenticationError(SYSTEM, f"token endpoint answered {status}", status=status)
        body = json_object(SYSTEM, "access token", response)
        with expect_shape(SYSTEM, "access token"):
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 3600)) - 60

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._token is None or time.monotonic() >= self._expires_at:
            token_response = yield self._token_request()
            await token_response.aread()
            self._remember(token_response)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            token_response = yield self._token_request()
            await token_response.aread()
            self._remember(token_response)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request


class TbaAuth(httpx.Auth):
    """Token-based authentication: every request signed with a fresh nonce and timestamp."""

    def __init__(
        self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str
    ) -> None:
        self._client = Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token_id,
            resource_owner_secret=token_secret,
            signature_method=SIGNATURE_HMAC_SHA256,
            realm=account_id.upper().replace("-", "_"),
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        method: Any = request.method
        _, headers, _ = self._client.sign(str(request.url), http_method=method)
        request.headers["Authorization"] = headers["Authorization"]
        yield request
