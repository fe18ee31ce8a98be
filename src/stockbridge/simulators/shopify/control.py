"""The control API under /_control (no auth, never costed or throttled): seed, drive, inspect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stockbridge.simulators.control import control_routes as routes

from . import payloads
from .ids import gid, parse_gid
from .orders import OrderError
from .views import stamp

if TYPE_CHECKING:
    from .app import ShopifySimulator


def _location_id(sim: ShopifySimulator, value: Any) -> int:
    number = parse_gid(value, "Location") if isinstance(value, str) else int(value)
    if number is None or number not in sim.catalog.locations:
        raise ValueError(f"unknown location {value!r}")
    return number


def add_location(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return {"id": gid("Location", sim.catalog.add_location(str(body["name"])).id)}


def add_product(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    catalog = sim.catalog
    variants = []
    for spec in body.get("variants") or []:
        stock = spec.get("inventory")
        if stock is None:  # stocked everywhere with nothing
            stock = dict.fromkeys(catalog.locations, 0)
        variants.append({**spec, "inventory": {_location_id(sim, k): v for k, v in stock.items()}})
    product = catalog.add_product(str(body.get("title", "Product")), variants)
    rows = [catalog.variants[v] for v in product.variant_ids]
    return {
        "id": gid("Product", product.id),
        "variants": [
            {
                "id": gid("ProductVariant", v.id),
                "sku": v.sku,
                "inventory_item_id": gid("InventoryItem", v.inventory_item_id),
            }
            for v in rows
        ],
    }


def set_stock(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"sku", "location_id", "available"?, "committed"?, ...}`: a merchant's own change in the admin."""
    variant = sim.catalog.variant_by_sku(str(body["sku"]))
    if variant is None:
        raise ValueError(f"unknown sku {body['sku']!r}")
    location = _location_id(sim, body.get("location_id", 1))
    quantities = sim.catalog.stock(variant.inventory_item_id, location)
    for name in quantities:
        if name in body:
            quantities[name] = int(body[name])
    sim.catalog.changed(variant.inventory_item_id, location)
    return inventory(sim, request, {})


def inventory(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    catalog = sim.catalog
    levels = []
    for (item_id, location_id), level in sorted(catalog.levels.items()):
        row = {
            "sku": catalog.items[item_id].sku,
            "inventory_item_id": gid("InventoryItem", item_id),
            "location_id": gid("Location", location_id),
            "on_hand": level.get("on_hand"),
            "updated_at": stamp(level.updated_at),
        }
        levels.append({**row, **level.quantities})
    return {"levels": levels}


def mutations(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return {
        "mutations": [
            {
                "at": m.at.isoformat(),
                "sku": m.sku,
                "inventory_item_id": gid("InventoryItem", m.item_id),
                "location_id": gid("Location", m.location_id),
                "name": m.name,
                "from": m.before,
                "to": m.after,
                "idempotency_key": m.idempotency_key,
                "reference_document_uri": m.reference_document_uri,
            }
            for m in sim.catalog.applied
        ]
    }


def calls(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return {**sim.stats.as_dict(), "throttle_status": sim.bucket.status()}


def configure_limits(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    """`{"bucket_size"?, "restore_rate"?, "max_quantities_per_call"?}`."""
    bucket = sim.bucket
    bucket.configure(
        int(body.get("bucket_size", bucket.size)), float(body.get("restore_rate", bucket.restore_rate))
    )
    sim.max_quantities = int(body.get("max_quantities_per_call", sim.max_quantities))
    return {"bucket": bucket.status(), "max_quantities_per_call": sim.max_quantities}


def _order_id(request: Request) -> int:
    raw = str(request.path_params["order_id"])
    number = parse_gid(raw, "Order") if raw.startswith("gid:") else int(raw)
    if number is None:
        raise ValueError(f"bad order id {raw!r}")
    return number


def place_order(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return payloads.order(sim.orders.place(body))


def edit_order(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return payloads.order(sim.orders.edit(_order_id(request), body))


def cancel_order(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return payloads.order(sim.orders.cancel(_order_id(request), body))


def get_order(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return get_order_view(sim, _order_id(request))


def list_orders(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return {"orders": [get_order_view(sim, o.id) for o in sim.orders.orders.values()]}


def get_order_view(sim: ShopifySimulator, order_id: int) -> dict[str, Any]:
    order = sim.orders.get(order_id)
    return {**payloads.order(order), "display_fulfillment_status": order.fulfillment_status()}


def subscribe(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    topics = body.get("topics") or []
    if not isinstance(topics, list) or not topics:
        raise ValueError("topics must be a non-empty list")
    sub = sim.webhooks.subscribe(
        str(body["address"]), [str(t) for t in topics], str(body.get("api_version", "2026-04"))
    )
    return {"id": gid("WebhookSubscription", sub.id), "address": sub.address, "topics": sub.topics}


def webhook_log(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    return {
        "subscriptions": [vars(s) for s in sim.webhooks.subscriptions],
        "deliveries": [d.record() for d in sim.webhooks.deliveries],
    }


def faults(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    """Webhook faults `{"duplicate_rate", "reorder_rate", "loss_rate", "delay_ms", "seed"}` and API
    faults under `"api": {"fail_rate", "fail_after_commit_rate", "latency_ms", "outage", "seed"}`;
    any subset of either (each given set re-seeds its RNG)."""
    api = body.pop("api", None)
    if api is not None:
        if not isinstance(api, dict):
            raise ValueError("api must be an object")
        sim.configure_api_faults(api)
    if body:
        sim.webhooks.configure_faults(body)
    return {**vars(sim.webhooks.faults), "api": vars(sim.api_faults)}


def reset(sim: ShopifySimulator, request: Request, body: dict[str, Any]) -> Any:
    sim.reset()
    return {"ok": True}


def _refused(error: OrderError) -> Response:
    status = 404 if "not found" in str(error) else 409
    return JSONResponse({"error": str(error)}, status_code=status)


def control_routes(sim: ShopifySimulator) -> list[Route]:
    return routes(
        sim,
        [
            ("POST", "/locations", add_location),
            ("POST", "/products", add_product),
            ("GET", "/inventory", inventory),
            ("POST", "/inventory", set_stock),
            ("GET", "/mutations", mutations),
            ("GET", "/calls", calls),
            ("POST", "/limits", configure_limits),
            ("POST", "/orders", place_order),
            ("GET", "/orders", list_orders),
            ("GET", "/orders/{order_id}", get_order),
            ("POST", "/orders/{order_id}/edit", edit_order),
            ("POST", "/orders/{order_id}/cancel", cancel_order),
            ("POST", "/webhooks", subscribe),
            ("GET", "/webhooks", webhook_log),
            ("POST", "/faults", faults),
            ("POST", "/reset", reset),
        ],
        OrderError,
        _refused,
    )
