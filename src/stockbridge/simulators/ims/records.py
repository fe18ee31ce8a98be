"""Record API for kit items, ship items and sales orders (see docs/simulators/ims.md); item fulfilments
and invoices are in document_records.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import catalog, suiteql
from .errors import SALES_ORDER_SPEC, invalid_parameter, nonexistent_id
from .limits import Handler
from .order_input import COUNTRIES, STATUS_NAMES, address_text, parse_record
from .order_views import OrderView
from .order_views import order as load_order
from .web import COLLECTION, RECORD, SINGULAR, compact, iso, json_body

if TYPE_CHECKING:
    from .app import ImsSimulator

SUPPORTED_RECORDS = frozenset(
    {
        "inventoryItem",
        "location",
        "inventoryAdjustment",
        "kitItem",
        "shipItem",
        "salesOrder",
        "itemFulfillment",
        "invoice",
    }
)
KIT_FILTER = suiteql.fields(
    "id:id:number itemId:itemid:text displayName:displayname:text externalId:externalid:text "
    "isInactive:isinactive:bool lastModifiedDate:lastmodifieddate:date"
)
SHIP_ITEM_FILTER = suiteql.fields("id:id:number itemId:itemid:text isInactive:isinactive:bool")
ORDER_FILTER = suiteql.fields(
    "id:id:number tranId:tranid:text externalId:externalid:text orderStatus:status:text "
    "entity:entity:number shipMethod:shipmethod:number tranDate:trandate:date "
    "createdDate:createddate:date lastModifiedDate:lastmodifieddate:date"
)
TRANSACTION = '"transaction"'


def floats(value: float | None) -> float | None:
    return None if value is None else float(value)


class OrderRecords:
    def __init__(self, sim: ImsSimulator) -> None:
        self.sim = sim
        self.store = sim.store
        self.orders = sim.orders

    # --- kit items -----------------------------------------------------------------------------
    def kit_members(self, request: Request, kit_id: int) -> list[dict[str, Any]]:
        with self.store.tx() as conn:
            members = catalog.members(conn, kit_id)
        return [
            {
                "links": [],
                "item": self.sim.ref(request, catalog.RECORD_OF_TYPE[m["itemtype"]], m["item"], m["itemid"]),
                "quantity": float(m["quantity"]),
                "lineNumber": m["linenumber"],
            }
            for m in members
        ]

    async def get_kit(self, request: Request) -> Response:
        kit_id = self.sim.key_id("item", request, "Kit")
        row = self.store.item(kit_id) or {}
        href = f"{self.sim.base(request)}/kitItem/{kit_id}"
        members = self.kit_members(request, kit_id) if self.sim.expand(request) else None
        record = {
            "links": [{"rel": "self", "href": href}],
            "id": str(kit_id),
            "itemId": row["itemid"],
            "displayName": row["displayname"],
            "externalId": row["externalid"],
            "isInactive": row["isinactive"] == "T",
            "upcCode": row["upccode"],
            "itemType": "kitItem",
            "createdDate": iso(row["createddate"]),
            "lastModifiedDate": iso(row["lastmodifieddate"]),
            "member": self.sim.sublist(f"{href}/member", members),
        }
        return JSONResponse(compact(record), media_type=SINGULAR)

    async def kit_member_sublist(self, request: Request) -> Response:
        kit_id = self.sim.key_id("item", request, "Kit")
        href = f"{self.sim.base(request)}/kitItem/{kit_id}/member"
        return JSONResponse(self.sim.sublist(href, self.kit_members(request, kit_id)), media_type=COLLECTION)

    async def list_kits(self, request: Request) -> Response:
        return self.sim.collection(request, "kitItem", "item", KIT_FILTER, "itemtype = 'Kit'")

    # --- ship items ----------------------------------------------------------------------------
    async def get_ship_item(self, request: Request) -> Response:
        row = self.store.one("SELECT * FROM shipitem WHERE id = ?", (self.sim.key_id("shipitem", request),))
        if row is None:
            raise nonexistent_id()
        links = [{"rel": "self", "href": f"{self.sim.base(request)}/shipItem/{row['id']}"}]
        body = {
            "links": links,
            "id": str(row["id"]),
            "itemId": row["itemid"],
            "isInactive": row["isinactive"] == "T",
        }
        return JSONResponse(compact({**body, "externalId": row["externalid"]}), media_type=SINGULAR)

    async def list_ship_items(self, request: Request) -> Response:
        return self.sim.collection(request, "shipItem", "shipitem", SHIP_ITEM_FILTER)

    # --- sales orders --------------------------------------------------------------------------
    def order_id(self, request: Request) -> int:
        return self.sim.key_id("transaction", request, "SalesOrd")

    def order_view(self, request: Request) -> OrderView:
        view = load_order(self.store, self.order_id(request))
        if view is None:
            raise nonexistent_id()
        return view

    def order_lines(self, request: Request, view: OrderView) -> list[dict[str, Any]]:
        ref = self.sim.ref
        lines = []
        for ln in view.lines:
            rate = floats(ln["rate"])
            location = (
                ref(request, "location", ln["location"], ln["locationname"]) if ln["location"] else None
            )
            line = {
                "links": [],
                "line": ln["id"],
                "item": ref(request, catalog.RECORD_OF_TYPE[ln["itemtype"]], ln["item"], ln["itemname"]),
                "itemType": ln["itemtype"],
                "quantity": float(ln["quantity"]),
                "quantityFulfilled": float(ln["quantityshiprecv"]),
                "quantityBilled": float(ln["quantitybilled"] or 0),
                "quantityCommitted": 0.0,
                "isClosed": ln["isclosed"] == "T",
                "rate": rate,
                "amount": None if rate is None else round(rate * float(ln["quantity"]), 2),
                "description": ln["memo"],
                "location": location,
            }
            lines.append(compact(line))
        return lines

    def address(self, href: str, view: OrderView, expand: bool) -> dict[str, Any]:
        links = [{"rel": "self", "href": f"{href}/shippingAddress"}]
        if not expand:
            return {"links": links}
        fields = dict(view.address or {})
        if fields.get("country"):
            fields["country"] = {
                "id": fields["country"],
                "refName": COUNTRIES.get(fields["country"], fields["country"]),
            }
        return compact({"links": links, **fields, "addrText": address_text(view.address)})

    def render_order(self, request: Request, view: OrderView) -> dict[str, Any]:
        head, ref, expand = view.head, self.sim.ref, self.sim.expand(request)
        href = f"{self.sim.base(request)}/salesOrder/{head['id']}"
        status = head["status"]
        record = {
            "links": [{"rel": "self", "href": href}],
            "id": str(head["id"]),
            "tranId": head["tranid"],
            "externalId": head["externalid"],
            "tranDate": head["trandate"],
            "entity": ref(request, "customer", head["entity"], head["entityname"])
            if head["entity"]
            else None,
            "orderStatus": {"id": status, "refName": STATUS_NAMES[status]},
            "shipMethod": ref(request, "shipItem", head["shipmethod"], head["shipname"])
            if head["shipmethod"]
            else None,
            "shipAddress": address_text(view.address),
            "shippingAddress": self.address(href, view, expand),
            "location": ref(request, "location", head["location"], head["locationname"])
            if head["location"]
            else None,
            "memo": head["memo"],
            "email": head["email"],
            "createdDate": iso(head["createddate"]),
            "lastModifiedDate": iso(head["lastmodifieddate"]),
            "item": self.sim.sublist(f"{href}/item", self.order_lines(request, view) if expand else None),
        }
        return compact(record)

    async def get_order(self, request: Request) -> Response:
        return JSONResponse(self.render_order(request, self.order_view(request)), media_type=SINGULAR)

    async def order_item_sublist(self, request: Request) -> Response:
        view = self.order_view(request)
        href = f"{self.sim.base(request)}/salesOrder/{view.head['id']}/item"
        return JSONResponse(self.sim.sublist(href, self.order_lines(request, view)), media_type=COLLECTION)

    async def order_address(self, request: Request) -> Response:
        view = self.order_view(request)
        href = f"{self.sim.base(request)}/salesOrder/{view.head['id']}"
        return JSONResponse(self.address(href, view, True), media_type=SINGULAR)

    async def list_orders(self, request: Request) -> Response:
        return self.sim.collection(request, "salesOrder", TRANSACTION, ORDER_FILTER, "type = 'SalesOrd'")

    async def create_order(self, request: Request) -> Response:
        body = await json_body(request)
        self.sim.validate_names(request, body, SALES_ORDER_SPEC, "salesOrder")
        [(_tranid, order_id)] = self.orders.create(
            [body], lambda conn, b: parse_record(conn, b, creating=True)
        )
        return self.sim.created(request, "salesOrder", order_id)

    async def patch_order(self, request: Request) -> Response:
        if "replace" in request.query_params:  # NetSuite's ?replace=item (replace a whole sublist)
            raise invalid_parameter("The replace parameter is not supported by the IMS simulator.")
        body = await json_body(request)
        self.sim.validate_names(request, body, SALES_ORDER_SPEC, "salesOrder")
        self.orders.edit(self.order_id(request), body, lambda conn, b: parse_record(conn, b, creating=False))
        return Response(status_code=204)

    def routes(self) -> list[tuple[str, str, Handler]]:
        kit, ship = f"{RECORD}/kitItem", f"{RECORD}/shipItem"
        order = f"{RECORD}/salesOrder"
        return [
            ("GET", kit, self.list_kits),
            ("GET", f"{kit}/{{key}}", self.get_kit),
            ("GET", f"{kit}/{{key}}/member", self.kit_member_sublist),
            ("GET", ship, self.list_ship_items),
            ("GET", f"{ship}/{{key}}", self.get_ship_item),
            ("GET", order, self.list_orders),
            ("POST", order, self.create_order),
            ("GET", f"{order}/{{key}}", self.get_order),
            ("PATCH", f"{order}/{{key}}", self.patch_order),
            ("GET", f"{order}/{{key}}/item", self.order_item_sublist),
            ("GET", f"{order}/{{key}}/shippingAddress", self.order_address),
        ]
