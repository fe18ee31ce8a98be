"""Shopify simulator: the GraphQL Admin API subset the hub uses, with Shopify's cost limits and webhooks.

`create_app(settings)` builds the Starlette app; `serve(settings, host, port)` runs it with uvicorn.
Besides `POST /admin/api/{version}/graphql.json`, a control API under `/_control` (no auth, never
costed) seeds data, places and changes orders, injects webhook faults and reports state and
statistics for an oracle. See docs/simulators/shopify.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Route

from .app import ShopifySimulator
from .control import control_routes
from .graphql_api import graphql_endpoint
from .settings import SUPPORTED_VERSIONS, ApiFaults, ShopifySettings, WebhookFaults
from .webhooks import sign

__all__ = [
    "SUPPORTED_VERSIONS",
    "ApiFaults",
    "ShopifySettings",
    "ShopifySimulator",
    "WebhookFaults",
    "create_app",
    "serve",
    "sign",
]


def create_app(settings: ShopifySettings | None = None) -> Starlette:
    simulator = ShopifySimulator(settings or ShopifySettings())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await simulator.webhooks.aclose()

    routes = [Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"])]
    app = Starlette(routes=routes + control_routes(simulator), lifespan=lifespan)
    app.state.simulator = simulator
    return app


def serve(settings: ShopifySettings | None = None, host: str = "127.0.0.1", port: int = 8003) -> None:
    import uvicorn

    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
