"""The control API under /_control (no auth, never limited or faulted): seed, drive, inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.simulators.control import control_routes as routes

from . import views
from .errors import MagentoError
from .state import SourceItem

if TYPE_CHECKING:
    from .app import MagentoSimulator


def add_sources(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"codes": ["wh-1", ...]}`: MSI sources (Stores > Inventory > Sources)."""
    for code in body["codes"]:
        if str(code) not in sim.inventory.sources:
            sim.inventory.sources.append(str(code))
    return {"sources": sim.inventory.sources}


def set_source_items(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"items": [{"sku", "source_code", "quantity", "status"?}]}`: a merchant's own change in the
    admin (logged as changes like any other)."""
    for row in body["items"]:
        source = str(row.get("source_code", "default"))
        if source not in sim.inventory.sources:
            raise ValueError(f"unknown source {source!r}")
        quantity = float(row["quantity"])
        status = int(row.get("status", 1 if quantity > 0 else 0))
        sim.inventory.put(SourceItem(str(row["sku"]), source, quantity, status))
    return source_items(sim, request, {})


def source_items(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    return {
        "sources": sim.inventory.sources,
        "items": [views.source_item(i) for i in sim.inventory.rows()],
        "saves": sim.inventory.saves,
        "changes": [
            {
                "at": change.at.isoformat(),
                "sku": change.sku,
                "source_code": change.source_code,
                "from": change.before,
                "to": change.after,
                "status": change.status,
            }
            for change in sim.inventory.changes
        ],
    }


def place_order(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    return views.order(sim.orders.place(body))


def list_orders(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    return {"orders": [views.order(o) for o in sim.orders.orders.values()]}


def get_order(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    order = sim.orders.get(int(request.path_params["id"]))
    return {**views.order(order), "shipments": [views.shipment(order, s) for s in order.shipments]}


def change_order(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"state"?, "status"?, "updated_at"?}`: the merchant changes an order in the admin."""
    order = sim.orders.get(int(request.path_params["id"]))
    order.state = str(body.get("state", order.state))
    order.status = str(body.get("status", order.status))
    sim.orders.touch(order)
    return views.order(order)


def calls(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    return sim.gate.stats.as_dict()


def limits(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"calls_per_second": float | null, "max_page_size"?: int | null}`."""
    if "calls_per_second" in body:
        rate = body["calls_per_second"]
        sim.gate.limit(None if rate is None else float(rate))
    if "max_page_size" in body:
        size = body["max_page_size"]
        sim.max_page_size = None if size is None else int(size)
    rate_now = None if sim.gate.bucket is None else sim.gate.bucket.rate
    return {"calls_per_second": rate_now, "max_page_size": sim.max_page_size}


def faults(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    """Any of `{"fail_rate", "fail_after_commit_rate", "latency_ms", "outage", "seed"}` (re-seeds)."""
    sim.gate.faults.update(body)
    return sim.gate.faults.as_dict()


def reset(sim: MagentoSimulator, request: Request, body: dict[str, Any]) -> Any:
    sim.reset()
    return {"ok": True}


def _refused(error: MagentoError) -> Response:
    return JSONResponse({"error": error.message, "parameters": error.parameters}, error.status)


def control_routes(sim: MagentoSimulator) -> list[Route]:
    return routes(
        sim,
        [
            ("POST", "/sources", add_sources),
            ("POST", "/source-items", set_source_items),
            ("GET", "/source-items", source_items),
            ("POST", "/orders", place_order),
            ("GET", "/orders", list_orders),
            ("GET", "/orders/{id}", get_order),
            ("POST", "/orders/{id}", change_order),
            ("GET", "/calls", calls),
            ("POST", "/limits", limits),
            ("POST", "/faults", faults),
            ("POST", "/reset", reset),
        ],
        MagentoError,
        _refused,
    )
