"""Magento 2 simulator: the REST API subset the hub uses (orders, shipments, MSI source items).

`create_app(settings)` builds the Starlette app; `serve(settings, host, port)` runs it with uvicorn.
Every route answers under `/rest/V1`, `/rest/all/V1` and `/rest/<store_code>/V1`, with an
integration-token bearer, `searchCriteria` searches, Magento's error bodies and an optional host
rate limit. A control API under `/_control` (no auth, never limited or faulted) seeds orders and
source items, injects faults and reports state and statistics. See docs/simulators/magento.md.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from .app import MagentoSimulator
from .control import control_routes
from .errors import ROUTE_MISSING, MagentoError
from .settings import MagentoSettings

__all__ = ["MagentoSettings", "MagentoSimulator", "create_app", "serve"]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, in Magento's error format."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return MagentoError(404 if status in (404, 405) else status, ROUTE_MISSING).response()


def create_app(settings: MagentoSettings | None = None) -> Starlette:
    simulator = MagentoSimulator(settings or MagentoSettings())
    app = Starlette(
        routes=simulator.routes() + control_routes(simulator),
        exception_handlers={HTTPException: _http_error},
    )
    app.state.simulator = simulator
    return app


def serve(settings: MagentoSettings | None = None, host: str = "127.0.0.1", port: int = 8004) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
