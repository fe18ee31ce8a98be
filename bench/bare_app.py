"""The baseline: a Starlette endpoint that answers 200 and does nothing."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def accept(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse({"received": True})


app = Starlette(routes=[Route("/webhooks/clarus", accept, methods=["POST"])])
