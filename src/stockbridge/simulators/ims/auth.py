"""Authentication like NetSuite's: OAuth 2.0 bearer tokens and token-based auth (OAuth 1.0a TBA).

TBA signatures (HMAC-SHA256, as NetSuite requires) are verified with oauthlib against the
configured consumer key/secret and token id/secret; the `realm` must name the account.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1 import RequestValidator, ResourceEndpoint
from oauthlib.oauth1.rfc5849 import SIGNATURE_HMAC_SHA256
from starlette.requests import Request

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_NONCE_WINDOW_SECONDS = 600


@dataclass(frozen=True)
class Credentials:
    account_id: str
    bearer_tokens: tuple[str, ...]
    client_id: str
    client_secret: str
    consumer_key: str
    consumer_secret: str
    token_id: str
    token_secret: str
    token_ttl_seconds: int = 3600


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def signed_url(request: Request) -> str:
    """The URL as the client sent (and signed) it: raw path and raw query string."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    url = f"{request.url.scheme}://{request.url.netloc}{raw_path.decode('latin-1')}"
    query = request.scope.get("query_string", b"")
    return f"{url}?{query.decode('latin-1')}" if query else url


def normalise_realm(realm: str) -> str:
    return realm.strip().upper().replace("-", "_")


class _TbaValidator(RequestValidator):
    """oauthlib validator holding one consumer and one token, with a replay (nonce) cache."""

    def __init__(self, creds: Credentials, clock: Callable[[], float]) -> None:
        super().__init__()
        self._creds = creds
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str, str], float] = {}

    @property
    def enforce_ssl(self) -> bool:
        return False

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA256,)

    @property
    def dummy_client(self) -> str:
        return "dummy-consumer"

    @property
    def dummy_access_token(self) -> str:
        return "dummy-token"

    # NetSuite keys are 64 hex characters and nonces are client-chosen: accept any sane token.
    def check_client_key(self, client_key: str) -> bool:
        return 0 < len(client_key) <= 256

    def check_access_token(self, request_token: str) -> bool:
        return 0 < len(request_token) <= 256

    def check_nonce(self, nonce: str) -> bool:
        return 0 < len(nonce) <= 256

    def validate_client_key(self, client_key: str, request: OAuthRequest) -> bool:
        return _same(client_key, self._creds.consumer_key)

    def validate_access_token(self, client_key: str, token: str, request: OAuthRequest) -> bool:
        return _same(client_key, self._creds.consumer_key) and _same(token, self._creds.token_id)

    def get_client_secret(self, client_key: str, request: OAuthRequest) -> str:
        return self._creds.consumer_secret if _same(client_key, self._creds.consumer_key) else "dummy"

    def get_access_token_secret(self, client_key: str, token: str, request: OAuthRequest) -> str:
        return self._creds.token_secret if _same(token, self._creds.token_id) else "dummy"

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True  # the realm (account id) is checked by Authenticator after the signature

    def validate_timestamp_and_nonce(
        self,
        client_key: str,
        timestamp: str,
        nonce: str,
        request: OAuthRequest,
        request_token: str | None = None,
        access_token: str | None = None,
    ) -> bool:
        now = self._clock()
        key = (client_key, timestamp, nonce)
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < _NONCE_WINDOW_SECONDS}
            if key in self._seen:
                return False
            self._seen[key] = now
        return True


class Authenticator:
    """Checks `Authorization` headers and issues OAuth 2.0 client-credentials tokens."""

    def __init__(self, creds: Credentials, clock: Callable[[], float] = time.time) -> None:
        self.creds = creds
        self._clock = clock
        self._issued: dict[str, float] = {}
        self._endpoint = ResourceEndpoint(_TbaValidator(creds, clock))

    def check(self, method: str, url: str, headers: Mapping[str, str], body: str) -> bool:
        authorization = headers.get("authorization", "")
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() == "bearer":
            return self._check_bearer(rest.strip())
        if scheme.lower() == "oauth":
            return self._check_tba(method, url, headers, body)
        return False

    def _check_bearer(self, token: str) -> bool:
        if not token:
            return False
        if any(_same(token, known) for known in self.creds.bearer_tokens):
            return True
        expiry = self._issued.get(token)
        return expiry is not None and expiry > self._clock()

    def _check_tba(self, method: str, url: str, headers: Mapping[str, str], body: str) -> bool:
        valid, request = self._endpoint.validate_protected_resource_request(
            url, http_method=method, body=body, headers=dict(headers)
        )
        if not valid or request is None:
            return False
        realm = request.realm
        return isinstance(realm, str) and normalise_realm(realm) == normalise_realm(self.creds.account_id)

    # --- OAuth 2.0 client credentials ------------------------------------------------------------
    def issue_token(self, form: Mapping[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Answer a token request: (status, JSON body) following RFC 6749 error conventions."""
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        used_basic = False
        client_id: str | None = form.get("client_id")
        client_secret: str | None = form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            used_basic = True
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return 401, {"error": "invalid_client"}
            client_id, _, client_secret = decoded.partition(":")
        if form.get("client_assertion_type") == JWT_BEARER_ASSERTION:
            ok = self._check_assertion(form.get("client_assertion", ""))
        else:
            ok = _same(client_id, self.creds.client_id) and _same(client_secret, self.creds.client_secret)
        if not ok:
            return (401 if used_basic else 400), {"error": "invalid_client"}
        token = secrets.token_urlsafe(32)
        ttl = self.creds.token_ttl_seconds
        self._issued[token] = self._clock() + ttl
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": ttl}

    def _check_assertion(self, assertion: str) -> bool:
        """NetSuite M2M: a JWT whose `iss` is the client id. The signature is NOT verified here."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return False
        try:
            padded = parts[1] + "=" * (-len(parts[1]) % 4)
            claims = json.loads(base64.urlsafe_b64decode(padded))
        except (binascii.Error, ValueError):
            return False
        if not isinstance(claims, dict):
            return False
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < self._clock():
            return False
        issuer = claims.get("iss")
        return isinstance(issuer, str) and _same(issuer, self.creds.client_id)
