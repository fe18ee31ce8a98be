"""The control API under /_control (simulator only: no auth, never limited or faulted)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import catalog
from .documents import FULFILMENT, INVOICE
from .errors import ImsError, as_id, invalid_content
from .order_input import parse_control, parse_fulfil_lines
from .order_views import control_documents, control_state, control_view
from .order_views import order as load_order
from .store import ITEM_FIELDS, AppliedLine, ImsStore, number
from .transform_input import DocumentHeader

if TYPE_CHECKING:
    from .app import ImsSimulator

ControlHandler = Callable[[Request], Awaitable[Any]]


def _control(handler: ControlHandler) -> Callable[[Request], Awaitable[Response]]:
    """Control endpoints answer JSON; bad input is a 400 `{"error": ...}`."""

    async def endpoint(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except ImsError as error:
            return JSONResponse({"error": error.detail, "path": error.path}, status_code=error.status)
        except (ValueError, TypeError, KeyError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)

    return endpoint


async def _json(request: Request) -> dict[str, Any]:
    body = json.loads(await request.body() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def set_committed(store: ImsStore, item_id: int, committed: Mapping[str, Any]) -> None:
    with store.tx() as conn:
        for location, quantity in committed.items():
            lid = as_id(location)
            if lid is None or store.location(lid) is None or isinstance(quantity, bool):
                raise invalid_content(f"Unknown location {location!r} or bad quantity.", "quantityCommitted")
            conn.execute(
                "INSERT INTO inventoryitemlocations (item, location, quantitycommitted, "
                "quantityavailable) VALUES (?, ?, ?, -?) ON CONFLICT (item, location) DO UPDATE SET "
                "quantitycommitted = excluded.quantitycommitted, "
                "quantityavailable = quantityonhand - excluded.quantitycommitted",
                (item_id, lid, float(quantity), float(quantity)),
            )


def state(store: ImsStore) -> dict[str, Any]:
    with store.tx():
        items: dict[str, Any] = {}
        for row in store.rows("SELECT id, itemid, isinactive, itemtype FROM item ORDER BY id"):
            items[row["itemid"]] = {
                "id": str(row["id"]),
                "itemType": row["itemtype"],
                "isInactive": row["isinactive"] == "T",
                "onHand": {},
            }
        by_id = {entry["id"]: entry for entry in items.values()}
        for row in store.rows(
            "SELECT m.parentitem, i.itemid, m.quantity FROM kititemmember m JOIN item i ON i.id = m.item "
            "ORDER BY m.parentitem, m.linenumber"
        ):
            by_id[str(row["parentitem"])].setdefault("members", []).append(
                {"itemId": row["itemid"], "quantity": number(row["quantity"])}
            )
        for row in store.rows(
            "SELECT item, location, quantityonhand FROM inventoryitemlocations ORDER BY item, location"
        ):
            by_id[str(row["item"])]["onHand"][str(row["location"])] = number(row["quantityonhand"])
        counts = (
            store.one(
                "SELECT (SELECT COUNT(*) FROM \"transaction\" WHERE type = 'InvAdjst') AS adjustments, "
                '(SELECT COUNT(*) FROM transactionline WHERE "transaction" IN '
                "(SELECT id FROM \"transaction\" WHERE type = 'InvAdjst')) AS lines, "
                "(SELECT COUNT(*) FROM \"transaction\" WHERE type = 'SalesOrd') AS orders, "
                "(SELECT COUNT(*) FROM \"transaction\" WHERE type = 'ItemShip') AS fulfilments, "
                "(SELECT COUNT(*) FROM \"transaction\" WHERE type = 'CustInvc') AS invoices"
            )
            or {}
        )
    return {
        "items": items,
        "adjustments": counts["adjustments"],
        "adjustment_lines": counts["lines"],
        "replaced": store.replaced,
        "salesOrders": counts["orders"],
        "itemFulfillments": counts["fulfilments"],
        "invoices": counts["invoices"],
    }


def applied_adjustments(store: ImsStore, after: int) -> list[dict[str, Any]]:
    """Every inventory adjustment applied (a replacing upsert too) with `seq > after`, in order."""
    return [
        {
            "seq": a.seq,
            "at": a.at.isoformat().replace("+00:00", "Z"),
            "id": str(a.transaction_id),
            "externalId": a.external_id,
            "replaced": a.replaced,
            "lines": [_applied_line(ln) for ln in a.lines],
        }
        for a in store.applied[after:]
    ]


def _applied_line(line: AppliedLine) -> dict[str, Any]:
    return {
        "itemId": line.item_id,
        "location": line.location,
        "adjustQtyBy": number(line.adjust_by),
        "onHand": number(line.on_hand),
    }


def control_routes(sim: ImsSimulator) -> list[Route]:
    store, orders = sim.store, sim.orders

    async def reset(request: Request) -> Any:
        store.reset()
        orders.reset()
        sim.stats.reset()
        sim.restore_settings()
        return {"ok": True}

    async def locations(request: Request) -> Any:
        specs = (await _json(request)).get("locations")
        if not isinstance(specs, list):
            raise ValueError('expected {"locations": [{"id"?, "name"}]}')
        return {"ids": store.upsert_locations(specs)}

    async def items(request: Request) -> Any:
        specs = (await _json(request)).get("items")
        if not isinstance(specs, list):
            raise ValueError(
                'expected {"items": [{"itemId", "displayName"?, "isInactive"?, "externalId"?, '
                '"itemType"?: "Kit", "members"?: [{"itemId", "quantity"}]}]}'
            )
        return {"ids": store.control_items(specs)}

    async def patch_item(request: Request) -> Any:
        itemid = request.path_params["item_id"]
        item_id = store.item_id_by_itemid(itemid)
        if item_id is None:
            raise ImsError(404, "NONEXISTENT_ID", f"no item with itemId {itemid!r}")
        body = await _json(request)
        unknown = set(body) - set(ITEM_FIELDS) - {"quantityCommitted", "members"}
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        row = store.item(item_id) or {}
        if "itemId" in body and str(body["itemId"]).lower() != str(row["itemid"]).lower():
            raise ValueError("itemId cannot change through the control API")
        store.update_item(item_id, {k: v for k, v in body.items() if k in ITEM_FIELDS and k != "itemId"})
        if "members" in body:
            store.replace_members(item_id, body["members"])
        if isinstance(body.get("quantityCommitted"), dict):
            if row["itemtype"] != "InvtPart":
                raise ValueError("only inventory items have committed quantities")
            set_committed(store, item_id, body["quantityCommitted"])
        row = store.item(item_id) or {}
        return {
            "id": str(item_id),
            "itemId": row["itemid"],
            "itemType": row["itemtype"],
            "displayName": row["displayname"],
            "isInactive": row["isinactive"] == "T",
            "lastModifiedDate": row["lastmodifieddate"].replace(" ", "T") + "Z",
        }

    async def ship_items(request: Request) -> Any:
        specs = (await _json(request)).get("items")
        if not isinstance(specs, list):
            raise ValueError('expected {"items": [{"itemId": "UPS Ground", "isInactive"?}]}')
        with store.tx() as conn:
            return {"ids": catalog.upsert_ship_items(conn, specs)}

    # --- sales orders ----------------------------------------------------------------------------
    def find_order(request: Request) -> int:
        key = request.path_params["order"]
        found = orders.find(key)
        if found is None:
            raise ImsError(404, "NONEXISTENT_ID", f"no sales order {key!r}")
        return found

    def view(order_id: int) -> dict[str, Any]:
        found = load_order(store, order_id)
        if found is None:  # pragma: no cover - checked by order_id
            raise ImsError(404, "NONEXISTENT_ID", f"no sales order {order_id}")
        return control_view(found)

    async def sales_orders(request: Request) -> Any:
        if request.method == "GET":
            return control_state(store)
        specs = (await _json(request)).get("orders")
        if not isinstance(specs, list):
            raise ValueError('expected {"orders": [{"status"?, "shipMethod"?, "lines": [...]}]}')
        created = orders.create(specs, lambda conn, spec: parse_control(conn, spec, creating=True))
        return {"ids": {tranid: str(oid) for tranid, oid in created}}

    async def patch_order(request: Request) -> Any:
        order = find_order(request)
        orders.edit(order, await _json(request), lambda conn, spec: parse_control(conn, spec, creating=False))
        return view(order)

    def action(name: str) -> ControlHandler:
        async def run(request: Request) -> Any:
            order = find_order(request)
            getattr(orders, name)(order)
            return view(order)

        return run

    async def fulfil(request: Request) -> Any:
        order = find_order(request)
        body = await _json(request)
        with store.tx() as conn:
            lines = parse_fulfil_lines(conn, body.get("lines"), "lines", transform=False)
        external_id = body.get("externalId")
        header = DocumentHeader(external_id=None if external_id is None else str(external_id))
        txn_id = orders.fulfil(order, lines, header)
        return {**view(order), "itemFulfillment": str(txn_id)}

    async def bill(request: Request) -> Any:
        order = find_order(request)
        txn_id = orders.bill(order)
        return {**view(order), "invoice": str(txn_id)}

    def after(request: Request) -> int:
        raw = request.query_params.get("after", "0")
        if not raw.isdigit():
            raise ValueError("after must be a sequence number (an integer >= 0)")
        return int(raw)

    async def fulfilments(request: Request) -> Any:
        return {"fulfilments": control_documents(store, FULFILMENT, after(request))}

    async def invoices(request: Request) -> Any:
        return {"invoices": control_documents(store, INVOICE, after(request))}

    async def state_view(request: Request) -> Any:
        return state(store)

    async def adjustments(request: Request) -> Any:
        return {"adjustments": applied_adjustments(store, after(request))}

    async def stats(request: Request) -> Any:
        return {**sim.stats.as_dict(), "in_flight": sim.limiter.in_flight}

    async def faults(request: Request) -> Any:
        if request.method == "PUT":
            sim.faults.update(await _json(request))
        return sim.faults.as_dict()

    def limits_now() -> dict[str, Any]:
        lim = sim.limiter
        return {"concurrency_limit": lim.concurrency_limit, "calls_per_second": lim.calls_per_second,
                "max_lines_per_request": sim.max_lines}  # fmt: skip

    async def limits(request: Request) -> Any:
        if request.method == "PUT":
            body = {**limits_now(), **(await _json(request))}
            cps = body["calls_per_second"]
            max_lines = int(body["max_lines_per_request"])
            if max_lines < 1:
                raise ValueError("max_lines_per_request must be >= 1")
            sim.limiter.configure(int(body["concurrency_limit"]), None if cps is None else float(cps))
            sim.max_lines = max_lines
        return limits_now()

    so = "/_control/sales_orders"
    return [
        Route("/_control/reset", _control(reset), methods=["POST"]),
        Route("/_control/locations", _control(locations), methods=["POST"]),
        Route("/_control/items", _control(items), methods=["POST"]),
        Route("/_control/items/{item_id:path}", _control(patch_item), methods=["PATCH"]),
        Route("/_control/ship_items", _control(ship_items), methods=["POST"]),
        Route(so, _control(sales_orders), methods=["GET", "POST"]),
        Route(f"{so}/{{order}}", _control(patch_order), methods=["PATCH"]),
        *(
            Route(f"{so}/{{order}}/{name}", _control(action(name)), methods=["POST"])
            for name in ("approve", "cancel", "close")
        ),
        Route(f"{so}/{{order}}/bill", _control(bill), methods=["POST"]),
        Route(f"{so}/{{order}}/fulfil", _control(fulfil), methods=["POST"]),
        Route("/_control/fulfilments", _control(fulfilments), methods=["GET"]),
        Route("/_control/invoices", _control(invoices), methods=["GET"]),
        Route("/_control/state", _control(state_view), methods=["GET"]),
        Route("/_control/adjustments", _control(adjustments), methods=["GET"]),
        Route("/_control/stats", _control(stats), methods=["GET"]),
        Route("/_control/faults", _control(faults), methods=["GET", "PUT"]),
        Route("/_control/limits", _control(limits), methods=["GET", "PUT"]),
    ]
