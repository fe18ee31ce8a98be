"""The control API a storefront simulator serves under /_control (no auth, never limited or
faulted): each handler takes the simulator, the request and its JSON object body, and answers JSON.
Bad input is a 400 `{"error": ...}`; the simulator's own error type answers as the simulator says."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

S = TypeVar("S")
E = TypeVar("E", bound=Exception)

Handler = Callable[[S, Request, dict[str, Any]], Any]


def control_routes(
    sim: S,
    routes: Sequence[tuple[str, str, Handler[S]]],
    error: type[E],
    answer: Callable[[E], Response],
) -> list[Route]:
    """One route per (method, path under /_control, handler); `error` raised by a handler answers
    `answer(error)`."""

    def endpoint(handler: Handler[S]) -> Callable[[Request], Awaitable[Response]]:
        async def respond(request: Request) -> Response:
            try:
                raw = await request.body()
                body = json.loads(raw) if raw else {}
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
                return JSONResponse(handler(sim, request, body))
            except error as refused:
                return answer(refused)
            except (ValueError, TypeError, KeyError) as bad:
                return JSONResponse({"error": str(bad)}, status_code=400)

        return respond

    return [
        Route(f"/_control{path}", endpoint(handler), methods=[method]) for method, path, handler in routes
    ]
