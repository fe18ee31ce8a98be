"""The simulated store and its REST routes, each served under `/rest/V1`, `/rest/all/V1` and
`/rest/<store_code>/V1` (Magento's default store, all store views, one store view)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from . import search, views
from .errors import bad_request, no_such_entity
from .gate import Gate, Handler, Stats
from .inventory import Inventory
from .orders import OrderBook
from .settings import MagentoSettings

# The ACL resource each route needs (its webapi.xml), named in a 401 as Magento names it.
ORDERS_READ = "Magento_Sales::actions_view"
SHIP = "Magento_Sales::ship"
SHIPMENTS_READ = "Magento_Sales::shipment"
CANCEL, HOLD, UNHOLD = "Magento_Sales::cancel", "Magento_Sales::hold", "Magento_Sales::unhold"
SOURCES = "Magento_InventoryApi::source"


class MagentoSimulator:
    def __init__(self, settings: MagentoSettings) -> None:
        self.settings = settings
        self.gate = Gate(settings.tokens, settings.store_codes)
        self.reset()

    def reset(self) -> None:
        """Everything back to the start-up settings: no orders, no source items, faults and limits
        as configured, statistics at zero."""
        s = self.settings
        self.orders = OrderBook(s.clock)
        self.inventory = Inventory(s.sources, s.clock)
        self.max_page_size = s.max_page_size
        self.gate.stats = Stats()
        self.gate.limit(s.calls_per_second)
        self.gate.faults.update(
            {
                "fail_rate": s.fail_rate,
                "fail_after_commit_rate": s.fail_after_commit_rate,
                "latency_ms": s.latency_ms,
                "outage": s.outage,
                "seed": s.seed,
            }
        )

    # --- handlers --------------------------------------------------------------------------------
    def _search(self, request: Request, records: list[dict[str, Any]]) -> dict[str, Any]:
        criteria = search.parse(request.query_params.multi_items())
        page, total = search.search(records, criteria, max_page_size=self.max_page_size)
        return {"items": list(page), "search_criteria": criteria.as_dict(), "total_count": total}

    async def list_orders(self, request: Request, body: Any) -> Any:
        return self._search(request, [views.order(o) for o in self.orders.orders.values()])

    async def get_order(self, request: Request, body: Any) -> Any:
        return views.order(self.orders.get(_id(request, "id")))

    async def ship(self, request: Request, body: Any) -> Any:
        shipment = self.orders.ship(_id(request, "order_id"), _object(body))
        return str(shipment.entity_id)  # ShipOrderInterface returns the id; JSON carries it as a string

    async def list_shipments(self, request: Request, body: Any) -> Any:
        records = [
            views.shipment(order, shipment)
            for order in self.orders.orders.values()
            for shipment in order.shipments
        ]
        return self._search(request, records)

    async def get_shipment(self, request: Request, body: Any) -> Any:
        wanted = _id(request, "id")
        for order in self.orders.orders.values():
            for shipment in order.shipments:
                if shipment.entity_id == wanted:
                    return views.shipment(order, shipment)
        raise no_such_entity("id", wanted)

    async def cancel(self, request: Request, body: Any) -> Any:
        return self.orders.cancel(_id(request, "id"))

    async def hold(self, request: Request, body: Any) -> Any:
        return self.orders.hold(_id(request, "id"))

    async def unhold(self, request: Request, body: Any) -> Any:
        return self.orders.unhold(_id(request, "id"))

    async def list_source_items(self, request: Request, body: Any) -> Any:
        return self._search(request, [views.source_item(i) for i in self.inventory.rows()])

    async def save_source_items(self, request: Request, body: Any) -> Any:
        self.inventory.save(body)
        return []  # a void service method: Magento answers an empty JSON array

    def routes(self) -> list[Route]:
        table: list[tuple[str, str, Handler, str]] = [
            ("GET", "/orders", self.list_orders, ORDERS_READ),
            ("GET", "/orders/{id}", self.get_order, ORDERS_READ),
            ("POST", "/order/{order_id}/ship", self.ship, SHIP),
            ("GET", "/shipments", self.list_shipments, SHIPMENTS_READ),
            ("GET", "/shipment/{id}", self.get_shipment, SHIPMENTS_READ),
            ("POST", "/orders/{id}/cancel", self.cancel, CANCEL),
            ("POST", "/orders/{id}/hold", self.hold, HOLD),
            ("POST", "/orders/{id}/unhold", self.unhold, UNHOLD),
            ("GET", "/inventory/source-items", self.list_source_items, SOURCES),
            ("POST", "/inventory/source-items", self.save_source_items, SOURCES),
        ]
        routes = []
        for method, path, handler, resource in table:
            endpoint = self.gate.wrap(f"/V1{path}", handler, resource)
            routes.append(Route(f"/rest/V1{path}", endpoint, methods=[method]))
            routes.append(Route(f"/rest/{{store_code}}/V1{path}", endpoint, methods=[method]))
        return routes


def _id(request: Request, name: str) -> int:
    raw = str(request.path_params[name])
    if not raw.isdigit():
        raise bad_request('The "%1" value\'s type is invalid. The "%2" type was expected.', [raw, "int"])
    return int(raw)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("Decoding error: \n%1", ["not a JSON object"])
    return body
