"""IMS simulator shaped like NetSuite's SuiteTalk REST API (record API, SuiteQL, OAuth 2.0 / TBA).

`create_app(settings)` builds the Starlette app; `serve(settings, host, port)` runs it with uvicorn.
Besides NetSuite's paths, a control API under `/_control` (no auth, never limited or faulted) seeds
data, injects faults, changes limits and reports state and statistics. See docs/simulators/ims.md.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .app import ImsSettings, ImsSimulator
from .errors import ImsError
from .store import ITEM_FIELDS

__all__ = ["ImsSettings", "ImsSimulator", "create_app", "serve"]

ControlHandler = Callable[[Request], Awaitable[Any]]


def _control(handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    """Control endpoints answer JSON; bad input is a 400 `{"error": ...}`."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except ImsError as error:
            return JSONResponse({"error": error.detail, "path": error.path}, status_code=error.status)
        except (ValueError, TypeError, KeyError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    return endpoint


async def _json(request: Request) -> dict[str, Any]:
    body = json.loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def control_routes(sim: ImsSimulator) -> list[Route]:
    async def reset(request: Request) -> Any:
        sim.store.reset()
        sim.stats.reset()
        sim.restore_settings()
        return {"ok": True}

    async def locations(request: Request) -> Any:
        specs = (await _json(request)).get("locations")
        if not isinstance(specs, list):
            raise ValueError('expected {"locations": [{"id"?, "name"}]}')
        return {"ids": sim.store.upsert_locations(specs)}

    async def items(request: Request) -> Any:
        specs = (await _json(request)).get("items")
        if not isinstance(specs, list):
            raise ValueError('expected {"items": [{"itemId", "displayName"?, "isInactive"?, "externalId"?}]}')
        return {"ids": sim.store.control_items(specs)}

    async def patch_item(request: Request) -> Any:
        itemid = request.path_params["item_id"]
        item_id = sim.store.item_id_by_itemid(itemid)
        if item_id is None:
            raise ImsError(404, "NONEXISTENT_ID", f"no item with itemId {itemid!r}")
        body = await _json(request)
        unknown = set(body) - set(ITEM_FIELDS) - {"quantityCommitted"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        sim.store.update_item(item_id, {k: v for k, v in body.items() if k in ITEM_FIELDS})
        if isinstance(body.get("quantityCommitted"), dict):
            sim.store.set_committed(item_id, body["quantityCommitted"])
        row = sim.store.item(item_id) or {}
        return {"id": str(item_id), "itemId": row["itemid"], "isInactive": row["isinactive"] == "T"}

    async def state(request: Request) -> Any:
        return sim.store.state()

    async def stats(request: Request) -> Any:
        return {**sim.stats.as_dict(), "in_flight": sim.limiter.in_flight}

    async def faults(request: Request) -> Any:
        if request.method == "PUT":
            sim.faults.update(await _json(request))
        return sim.faults.as_dict()

    def limits_now() -> dict[str, Any]:
        lim = sim.limiter
        return {"concurrency_limit": lim.concurrency_limit, "calls_per_second": lim.calls_per_second,
                "max_lines_per_request": sim.max_lines}  # fmt: skip

    async def limits(request: Request) -> Any:
        if request.method == "PUT":
            body = {**limits_now(), **(await _json(request))}
            cps = body["calls_per_second"]
            max_lines = int(body["max_lines_per_request"])
            if max_lines < 1:
                raise ValueError("max_lines_per_request must be >= 1")
            sim.limiter.configure(int(body["concurrency_limit"]), None if cps is None else float(cps))
            sim.max_lines = max_lines
        return limits_now()

    return [
        Route("/_control/reset", _control(reset), methods=["POST"]),
        Route("/_control/locations", _control(locations), methods=["POST"]),
        Route("/_control/items", _control(items), methods=["POST"]),
        Route("/_control/items/{item_id:path}", _control(patch_item), methods=["PATCH"]),
        Route("/_control/state", _control(state), methods=["GET"]),
        Route("/_control/stats", _control(stats), methods=["GET"]),
        Route("/_control/faults", _control(faults), methods=["GET", "PUT"]),
        Route("/_control/limits", _control(limits), methods=["GET", "PUT"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, in NetSuite's error format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Unexpected error"
    return ImsError(status, "NONEXISTENT_ID" if status == 404 else "INVALID_REQUEST", str(detail)).response()


def create_app(settings: ImsSettings | None = None) -> Starlette:
    simulator = ImsSimulator(settings or ImsSettings())
    routes = simulator.routes() + control_routes(simulator)
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.simulator = simulator
    return app


def serve(settings: ImsSettings | None = None, host: str = "127.0.0.1", port: int = 8002) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
