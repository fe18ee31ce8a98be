"""HTTP routes of shipments: the real API's reads and the control API's despatch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .server import ClarusServer
from .web import json_body, query_int

Handler = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Handler], Handler]


def shipment_routes(server: ClarusServer, api: Wrap, control: Wrap) -> list[Route]:
    async def get_shipment(request: Request) -> Response:
        return JSONResponse(server.state.shipments.get(request.path_params["shipment_id"]).to_dict())

    async def list_shipments(request: Request) -> Response:
        params = request.query_params
        page = server.state.shipments.page(
            query_int(request, "limit", 500, 1, 1000),
            params.get("cursor") or None,
            params.get("reference") or None,
            params.get("updated_after") or None,
            params.get("warehouse_id") or None,
        )
        return JSONResponse({"data": [s.to_dict() for s in page.shipments], "next_cursor": page.next_cursor})

    async def despatch(request: Request) -> Response:
        body = await json_body(request, optional=True)
        shipment, events = server.state.despatch(request.path_params["reference"], body)
        server.record(events)
        return JSONResponse(shipment.to_dict(), status_code=201)

    async def dump_shipments(request: Request) -> Response:
        return JSONResponse({"shipments": server.state.shipments.dump()})

    return [
        Route("/api/v1/shipments", api(list_shipments), methods=["GET"]),
        Route("/api/v1/shipments/{shipment_id}", api(get_shipment), methods=["GET"]),
        Route("/_control/orders/{reference}/despatch", control(despatch), methods=["POST"]),
        Route("/_control/shipments", control(dump_shipments), methods=["GET"]),
    ]
