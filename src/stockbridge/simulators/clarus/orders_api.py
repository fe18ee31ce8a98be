"""HTTP routes of the product master (items), ship methods and orders, real and control API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .items import ItemCatalog
from .movements import ClarusError
from .orders import ORDER_STATUS_CHANGED, ORDER_UPDATED, Order
from .server import ClarusServer
from .settings import ship_method_codes
from .state import AnyEvent
from .web import json_body, json_object, query_int

Handler = Callable[[Request], Awaitable[Response]]
Wrap = Callable[[Handler], Handler]


async def _until_disconnected(request: Request, within_s: float) -> None:
    """Wait until the client hangs up (or `within_s` passes); the request body must have been read."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), within_s)


def order_routes(server: ClarusServer, api: Wrap, control: Wrap) -> list[Route]:
    def respond(order: Order, status: int = 200) -> JSONResponse:
        return JSONResponse(order.to_dict(), status_code=status)

    def status_changed(order: Order, previous: str | None) -> list[AnyEvent]:
        return [server.state.order_event(ORDER_STATUS_CHANGED, order, previous)]

    # --- items --------------------------------------------------------------------------------------

    def catalog() -> ItemCatalog:
        return server.state.items

    async def put_item(request: Request) -> Response:
        body = await json_body(request, optional=True)
        item, created = catalog().upsert(request.path_params["sku"], body, server.state.now())
        return JSONResponse(item.to_dict(), status_code=201 if created else 200)

    async def get_item(request: Request) -> Response:
        item = catalog().get(request.path_params["sku"])
        if item is None:
            raise ClarusError("not_found", f"no item {request.path_params['sku']!r}", None, 404)
        return JSONResponse(item.to_dict())

    async def list_items(request: Request) -> Response:
        page = catalog().page(
            query_int(request, "limit", 500, 1, 1000), request.query_params.get("cursor") or None
        )
        return JSONResponse({"data": [i.to_dict() for i in page.items], "next_cursor": page.next_cursor})

    async def list_ship_methods(request: Request) -> Response:
        return JSONResponse({"data": [{"code": code} for code in server.settings.ship_methods]})

    # --- orders -------------------------------------------------------------------------------------

    async def create_order(request: Request) -> Response:
        body = await json_body(request)
        state = server.state
        order = state.orders.create(body, server.settings.ship_methods, state.now())
        server.record(status_changed(order, None))
        if server.create_times_out():
            # Applied, but answered only once the client has given up (or after timeout_delay_s).
            await _until_disconnected(request, server.settings.faults.timeout_delay_s)
        return respond(order, 201)

    async def get_order(request: Request) -> Response:
        return respond(server.state.orders.get(request.path_params["reference"]))

    async def list_orders(request: Request) -> Response:
        params = request.query_params
        page = server.state.orders.page(
            query_int(request, "limit", 500, 1, 1000),
            params.get("cursor") or None,
            params.get("status") or None,
            params.get("updated_after") or None,
            params.get("warehouse_id") or None,
        )
        return JSONResponse({"data": [o.to_dict() for o in page.orders], "next_cursor": page.next_cursor})

    async def amend_order(request: Request) -> Response:
        body = await json_body(request)
        state = server.state
        order, changed = state.orders.amend(
            request.path_params["reference"], body, server.settings.ship_methods, state.now()
        )
        if changed:
            server.record([state.order_event(ORDER_UPDATED, order, order.status)])
        return respond(order)

    async def cancel_order(request: Request) -> Response:
        state = server.state
        order, previous = state.orders.cancel(request.path_params["reference"], state.now())
        if previous is not None:
            server.record(status_changed(order, previous))
        return respond(order)

    # --- control ------------------------------------------------------------------------------------

    async def advance_order(request: Request) -> Response:
        target = json_object(await json_body(request)).get("status")
        state = server.state
        order, previous = state.orders.advance(request.path_params["reference"], target, state.now())
        if previous is not None:
            server.record(status_changed(order, previous))
        return respond(order)

    async def dump_orders(request: Request) -> Response:
        return JSONResponse({"orders": server.state.orders.dump()})

    async def dump_items(request: Request) -> Response:
        return JSONResponse({"items": catalog().dump()})

    async def ship_methods(request: Request) -> Response:
        if request.method == "PUT":
            codes = ship_method_codes(json_object(await json_body(request)).get("codes"), "codes")
            server.settings = dataclasses.replace(server.settings, ship_methods=codes)
        return JSONResponse({"codes": list(server.settings.ship_methods)})

    return [
        Route("/api/v1/items", api(list_items), methods=["GET"]),
        Route("/api/v1/items/{sku}", api(get_item), methods=["GET"]),
        Route("/api/v1/items/{sku}", api(put_item), methods=["PUT"]),
        Route("/api/v1/ship_methods", api(list_ship_methods), methods=["GET"]),
        Route("/api/v1/orders", api(create_order), methods=["POST"]),
        Route("/api/v1/orders", api(list_orders), methods=["GET"]),
        Route("/api/v1/orders/{reference}", api(get_order), methods=["GET"]),
        Route("/api/v1/orders/{reference}", api(amend_order), methods=["PATCH"]),
        Route("/api/v1/orders/{reference}/cancel", api(cancel_order), methods=["POST"]),
        Route("/_control/orders", control(dump_orders), methods=["GET"]),
        Route("/_control/orders/{reference}/advance", control(advance_order), methods=["POST"]),
        Route("/_control/items", control(dump_items), methods=["GET"]),
        Route("/_control/ship_methods", control(ship_methods), methods=["GET", "PUT"]),
    ]
