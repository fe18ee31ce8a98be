"""IMS simulator shaped like NetSuite's SuiteTalk REST API (record API, SuiteQL, OAuth 2.0 / TBA).

`create_app(settings)` builds the Starlette app; `serve(settings, host, port)` runs it with uvicorn.
Besides NetSuite's paths, a control API under `/_control` (no auth, never limited or faulted) seeds
data, injects faults, changes limits and reports state and statistics. See docs/simulators/ims.md.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import ImsSettings, ImsSimulator
from .control import control_routes
from .errors import ImsError
from .records import SUPPORTED_RECORDS
from .web import canonical_record_path

__all__ = ["ImsSettings", "ImsSimulator", "create_app", "serve"]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, in NetSuite's error format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Unexpected error"
    return ImsError(status, "NONEXISTENT_ID" if status == 404 else "INVALID_REQUEST", str(detail)).response()


class _AnyCaseRecordTypes:
    """Routes record type names as NetSuite does: in any case (web.canonical_record_path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = canonical_record_path(scope["path"], SUPPORTED_RECORDS)
            if path != scope["path"]:
                # raw_path stays as sent: a TBA signature covers the URL the client signed.
                scope = {**scope, "path": path}
        await self.app(scope, receive, send)


def create_app(settings: ImsSettings | None = None) -> Starlette:
    simulator = ImsSimulator(settings or ImsSettings())
    routes = simulator.routes() + control_routes(simulator)
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(_AnyCaseRecordTypes)],
    )
    app.state.simulator = simulator
    return app


def serve(settings: ImsSettings | None = None, host: str = "127.0.0.1", port: int = 8002) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
