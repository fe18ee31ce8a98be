"""`/_control/clock` (simulator only): a warehouse whose clock is off by a set number of seconds."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .server import ClarusServer
from .settings import SettingsError
from .web import json_body, json_object

Handler = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Handler], Handler]
MAX_OFFSET_S = 366 * 86400


def clock_routes(server: ClarusServer, control: Wrap) -> list[Route]:
    async def clock(request: Request) -> Response:
        if request.method == "PUT":
            body = json_object(await json_body(request))
            offset = body.get("offset_s")
            if (
                isinstance(offset, bool)
                or not isinstance(offset, int | float)
                or not math.isfinite(offset)
                or abs(offset) > MAX_OFFSET_S
            ):
                raise SettingsError("offset_s", f"must be a number of seconds within ±{MAX_OFFSET_S}")
            server.set_clock_offset(float(offset))
        return JSONResponse({"offset_s": server.clock_offset_s, "now": server.now().isoformat()})

    return [Route("/_control/clock", control(clock), methods=["GET", "PUT"])]
