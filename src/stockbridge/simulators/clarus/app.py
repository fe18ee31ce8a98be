"""HTTP API of the Clarus WMS simulator: the real API under /api/v1 and a control API under /_control."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .delivery import DeliveryWorker
from .settings import ClarusSettings, SettingsError
from .state import ClarusError, ClarusState, Event, parse_movement

MAX_MOVEMENTS_PER_REQUEST = 100_000
Handler = Callable[[Request], Awaitable[Response]]


class ClarusServer:
    """Holds the simulator's state and delivery worker; everything runs on the server's event loop."""

    def __init__(self, settings: ClarusSettings) -> None:
        self.settings = settings
        self.state = self._new_state(settings)
        self.delivery = DeliveryWorker(settings, lambda sub_id: sub_id in self.state.subscriptions)

    @staticmethod
    def _new_state(settings: ClarusSettings) -> ClarusState:
        state = ClarusState(settings.warehouses, settings.clock, settings.event_retention)
        if settings.webhook_url is not None:
            state.add_subscription(settings.webhook_url, settings.webhook_secret)
        return state

    async def reset(self, changes: dict[str, Any]) -> None:
        settings = self.settings.updated(changes)
        state = self._new_state(settings)
        await self.delivery.stop()
        self.settings, self.state = settings, state
        self.delivery.configure(settings)
        await self.delivery.start()

    def record(self, events: list[Event]) -> None:
        self.delivery.enqueue(events, self.state.subscriptions.values())


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": ClarusError(code, message, field).to_dict()}, status_code=status)


async def _json_body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ClarusError("invalid_json", "request body is not valid JSON", None, 400) from None


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ClarusError("invalid_body", "request body must be a JSON object", None, 400)
    return body


def _query_int(request: Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        message = f"{name} must be an integer in {minimum}..{maximum}"
        raise ClarusError("invalid_parameter", message, name, 400)
    return value


def _required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ClarusError("invalid_parameter", f"{name} is required", name, 400)
    return value


def create_app(settings: ClarusSettings | None = None) -> Starlette:
    server = ClarusServer(settings or ClarusSettings())

    def api(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            key = server.settings.api_key
            if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key.encode()):
                response = _error(401, "unauthorized", "missing or invalid bearer token")
                response.headers["WWW-Authenticate"] = 'Bearer realm="clarus"'
                return response
            try:
                return await handler(request)
            except ClarusError as exc:
                return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)

        return guarded

    def control(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except ClarusError as exc:
                return JSONResponse({"error": exc.to_dict()}, status_code=exc.status)
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
        page = server.state.events_after(
            _required(request, "warehouse_id"),
            _query_int(request, "after_sequence", 0, 0, 2**62),
            _query_int(request, "limit", 1000, 1, 1000),
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

    async def state_view(request: Request) -> Response:
        return JSONResponse(server.state.stock_view())

    async def deliveries(request: Request) -> Response:
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
        Route("/_control/state", control(state_view), methods=["GET"]),
        Route("/_control/deliveries", control(deliveries), methods=["GET"]),
        Route("/_control/drain", control(drain), methods=["POST"]),
        Route("/_control/faults", control(faults), methods=["GET", "PUT"]),
        Route("/_control/health", health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error})
    app.state.clarus = server
    return app
