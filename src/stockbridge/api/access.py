"""Who may call the admin API: `Authorization: Bearer <token>` with a role that allows the route.

No token, or one that is unknown or revoked, is 401; a token whose role is too low is 403
(docs/security.md, API2 and API5).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stockbridge.engine.db import in_transaction
from stockbridge.store import tokens_repo
from stockbridge.store.tokens_repo import Role

Handler = Callable[[Request], Awaitable[Response]]
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="stockbridge"'}


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def guard(engine: Engine) -> Callable[[Role, Handler], Handler]:
    """`require(role, handler)`: `handler` behind a token check, for routes of this hub's database."""

    def require(role: Role, handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            token = bearer_token(request.headers.get("authorization"))
            found = (
                None
                if token is None
                else await in_transaction(engine, lambda c: tokens_repo.authenticate(c, token))
            )
            if found is None:
                return JSONResponse(
                    {"error": "missing, unknown or revoked token"}, status_code=401, headers=_CHALLENGE
                )
            if not found.role.allows(role):
                return JSONResponse(
                    {"error": f"needs role {role.value}; token {found.name!r} is {found.role.value}"},
                    status_code=403,
                )
            return await handler(request)

        return guarded

    return require
