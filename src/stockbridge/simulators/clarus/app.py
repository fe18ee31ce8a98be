"""HTTP API of the Clarus WMS simulator: the real API under /api/v1 and a control API under /_control."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .api_limits import ApiLimits, format_retry_after
from .clock_api import clock_routes
from .orders_api import order_routes
from .poison import parse_poison
from .server import ClarusServer
from .settings import ClarusSettings, SettingsError
from .shipments_api import shipment_routes
from .state import ClarusError, parse_movement
from .web import error_response as _error
from .web import json_body as _json_body
from .web import json_object as _object
from .web import query_int as _query_int
from .web import refusal
from .web import required_param as _required

__all__ = ["ClarusServer", "create_app"]

MAX_MOVEMENTS_PER_REQUEST = 100_000
Handler = Callable[[Request], Awaitable[Response]]


def create_app(settings: ClarusSettings | None = None) -> Starlette:
    server = ClarusServer(settings or ClarusSettings())
    limits = ApiLimits()

    def api(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            route = request.scope.get("route")
            wait = limits.admit(f"{request.method} {getattr(route, 'path', request.url.path)}")
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = server.settings.api_key
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
                response = _error(401, "unauthorized", "missing or invalid bearer token")
                response.headers["WWW-Authenticate"] = 'Bearer realm="clarus"'
                return response
            if wait > 0:
                response = _error(429, "rate_limited", "too many requests; slow down")
                response.headers["Retry-After"] = format_retry_after(wait)
                return response
            try:
                return await handler(request)
            except ClarusError as exc:
                return refusal(exc)

        return guarded

    def control(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ClarusError as exc:
                return refusal(exc)
            except SettingsError as exc:
                return _error(400, "invalid_setting", exc.message, exc.field)

        return guarded

    async def list_warehouses(request: Request) -> Response:
        data = [{"id": w.id, "name": w.name} for w in server.state.warehouses.values()]
        return JSONResponse({"data": data})

    async def stock(request: Request) -> Response:
        page = server.state.stock_page(
            _required(request, "warehouse_id"),
            _query_int(request, "limit", 500, 1, 1000),
            request.query_params.get("cursor") or None,
            request.query_params.get("sku") or None,
        )
        return JSONResponse(
            {"data": page.rows, "next_cursor": page.next_cursor, "as_of_sequence": page.as_of_sequence}
        )

    async def events(request: Request) -> Response:
        raw_types = request.query_params.get("types")
        types = frozenset(t.strip() for t in raw_types.split(",") if t.strip()) if raw_types else None
        page = server.state.events_after(
            _required(request, "warehouse_id"),
            _query_int(request, "after_sequence", 0, 0, 2**62),
            _query_int(request, "limit", 1000, 1, 1000),
            types,
        )
        return JSONResponse(
            {
                "data": [e.to_dict() for e in page.events],
                "has_more": page.has_more,
                "next_after_sequence": page.next_after_sequence,
            }
        )

    async def create_webhook(request: Request) -> Response:
        body = _object(await _json_body(request))
        unknown = set(body) - {"url", "secret", "events"}
        if unknown:
            raise ClarusError("invalid_field", "unknown field", sorted(unknown)[0])
        subscription = server.state.add_subscription(body.get("url"), body.get("secret"), body.get("events"))
        return JSONResponse(subscription.to_dict(with_secret=True), status_code=201)

    async def list_webhooks(request: Request) -> Response:
        return JSONResponse({"data": [s.to_dict() for s in server.state.subscriptions.values()]})

    async def get_webhook(request: Request) -> Response:
        subscription = server.state.subscriptions.get(request.path_params["webhook_id"])
        if subscription is None:
            raise ClarusError("not_found", "no such webhook", None, 404)
        return JSONResponse(subscription.to_dict())

    async def delete_webhook(request: Request) -> Response:
        server.state.delete_subscription(request.path_params["webhook_id"])
        return Response(status_code=204)

    async def reset(request: Request) -> Response:
        await server.reset(_object(await _json_body(request, optional=True)))
        limits.reset_counts()
        return JSONResponse({"reset": True, "faults": server.settings.faults.to_dict()})

    async def add_warehouse(request: Request) -> Response:
        body = _object(await _json_body(request))
        warehouse_id, name = body.get("id"), body.get("name")
        if not isinstance(warehouse_id, str):
            raise ClarusError("invalid_field", "id is required", "id")
        if name is not None and not isinstance(name, str):
            raise ClarusError("invalid_field", "name must be a string", "name")
        warehouse = server.state.add_warehouse(warehouse_id, name or f"Clarus warehouse {warehouse_id}")
        return JSONResponse({"id": warehouse.id, "name": warehouse.name, "sequence": 0}, status_code=201)

    async def post_movements(request: Request) -> Response:
        movements = _object(await _json_body(request)).get("movements")
        if not isinstance(movements, list):
            raise ClarusError("invalid_body", 'body must be {"movements": [...]}', "movements", 400)
        if len(movements) > MAX_MOVEMENTS_PER_REQUEST:
            raise ClarusError(
                "too_many_movements", f"at most {MAX_MOVEMENTS_PER_REQUEST} per request", "movements", 400
            )
        state = server.state
        applied, rejected, produced = 0, [], []
        last_sequence: dict[str, int] = {}
        for index, raw in enumerate(movements):
            try:
                events = state.apply(parse_movement(raw))
            except ClarusError as exc:
                rejected.append({"index": index, "code": exc.code, "reason": exc.message, "field": exc.field})
                continue
            applied += 1
            produced.extend(events)
            for event in events:
                last_sequence[event.warehouse_id] = event.sequence
        server.record(produced)
        body: dict[str, Any] = {"applied": applied, "last_sequence": last_sequence, "rejected": rejected}
        if rejected:
            first = rejected[0]
            body["error"] = {
                "code": "movement_rejected",
                "message": f"{len(rejected)} movement(s) refused; first at index "
                f"{first['index']}: {first['reason']}",
            }
        return JSONResponse(body, status_code=422 if rejected else 200)

    async def seed_stock(request: Request) -> Response:
        body = _object(await _json_body(request))
        warehouse_id, rows = body.get("warehouse_id"), body.get("rows")
        if not isinstance(warehouse_id, str) or not isinstance(rows, list):
            message = 'body must be {"warehouse_id": "...", "rows": [{"sku", "status", "quantity"}, ...]}'
            raise ClarusError("invalid_body", message, "rows", 400)
        if not all(isinstance(r, dict) for r in rows):
            raise ClarusError("invalid_body", "each row must be an object", "rows", 400)
        seeded = server.state.seed_stock(
            warehouse_id, ((r.get("sku"), r.get("status"), r.get("quantity")) for r in rows)
        )
        return JSONResponse({"seeded": seeded, "skus": len(server.state.warehouse(warehouse_id).skus)})

    async def poison(request: Request) -> Response:
        event = server.state.poison(parse_poison(_object(await _json_body(request))))
        server.record([event])
        return JSONResponse(
            {
                "id": event.id,
                "type": event.type,
                "kind": event.kind,
                "warehouse_id": event.warehouse_id,
                "sequence": event.sequence,
                "body": event.to_json_bytes().decode(),
            },
            status_code=201,
        )

    async def state_view(request: Request) -> Response:
        return JSONResponse(server.state.stock_view())

    async def deliveries(request: Request) -> Response:
        if request.method == "PUT":
            body = _object(await _json_body(request))
            unknown = set(body) - {"paused"}
            if unknown:
                raise SettingsError(sorted(unknown)[0], "unknown delivery setting")
            if not isinstance(body.get("paused"), bool):
                raise SettingsError("paused", "must be true or false")
            server.delivery.set_paused(body["paused"])
        return JSONResponse(server.delivery.snapshot())

    async def drain(request: Request) -> Response:
        raw = request.query_params.get("timeout", "10")
        try:
            timeout = float(raw)
        except ValueError:
            timeout = -1.0
        if not 0 <= timeout <= 600:
            raise ClarusError("invalid_parameter", "timeout must be seconds in 0..600", "timeout", 400)
        drained = await server.delivery.drain(timeout)
        return JSONResponse({**server.delivery.snapshot(), "drained": drained})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            updated = server.settings.faults.updated(_object(await _json_body(request)))
            server.settings = dataclasses.replace(server.settings, faults=updated)
            server.delivery.set_faults(updated)
        return JSONResponse(server.settings.faults.to_dict())

    async def api_limits(request: Request) -> Response:
        if request.method == "PUT":
            body = _object(await _json_body(request))
            unknown = set(body) - {"calls_per_second"}
            if unknown:
                raise SettingsError(sorted(unknown)[0], "unknown limit")
            try:
                limits.configure(body.get("calls_per_second"))
            except ValueError as exc:
                raise SettingsError("calls_per_second", str(exc)) from None
        return JSONResponse(limits.limits())

    async def api_stats(request: Request) -> Response:
        return JSONResponse(limits.stats())

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await server.delivery.start()
        try:
            yield
        finally:
            await server.delivery.stop()

    routes = [
        Route("/api/v1/warehouses", api(list_warehouses), methods=["GET"]),
        Route("/api/v1/stock", api(stock), methods=["GET"]),
        Route("/api/v1/events", api(events), methods=["GET"]),
        Route("/api/v1/webhooks", api(create_webhook), methods=["POST"]),
        Route("/api/v1/webhooks", api(list_webhooks), methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", api(get_webhook), methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", api(delete_webhook), methods=["DELETE"]),
        Route("/_control/reset", control(reset), methods=["POST"]),
        Route("/_control/warehouses", control(add_warehouse), methods=["POST"]),
        Route("/_control/movements", control(post_movements), methods=["POST"]),
        Route("/_control/poison", control(poison), methods=["POST"]),
        Route("/_control/stock", control(seed_stock), methods=["POST"]),
        Route("/_control/state", control(state_view), methods=["GET"]),
        Route("/_control/deliveries", control(deliveries), methods=["GET", "PUT"]),
        Route("/_control/drain", control(drain), methods=["POST"]),
        Route("/_control/faults", control(faults), methods=["GET", "PUT"]),
        Route("/_control/limits", control(api_limits), methods=["GET", "PUT"]),
        Route("/_control/stats", control(api_stats), methods=["GET"]),
        Route("/_control/health", health, methods=["GET"]),
        *order_routes(server, api, control),
        *shipment_routes(server, api, control),
        *clock_routes(server, control),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.clarus = server
    return app
