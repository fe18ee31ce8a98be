"""Record API for the documents a sales order is transformed into: item fulfilments and invoices
(`POST /salesOrder/{id}/!transform/{itemFulfillment|invoice}`, reads, sublists, collections)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import catalog, suiteql
from .documents import FULFILMENT, INVOICE
from .errors import FULFILLMENT_SPEC, INVOICE_SPEC, nonexistent_id
from .limits import Handler
from .order_input import SHIP_STATUS_NAMES, parse_fulfil_lines
from .order_views import document, package_view, packages
from .transform_input import parse_bill_lines, parse_header
from .web import COLLECTION, RECORD, SINGULAR, compact, iso, json_body

if TYPE_CHECKING:
    from .app import ImsSimulator

DOCUMENT_FILTER = suiteql.fields(
    "id:id:number tranId:tranid:text externalId:externalid:text createdFrom:createdfrom:number "
    "tranDate:trandate:date lastModifiedDate:lastmodifieddate:date"
)
INVOICE_STATUS_NAMES = {"A": "Open", "B": "Paid In Full"}
TRANSACTION = '"transaction"'


class DocumentRecords:
    def __init__(self, sim: ImsSimulator) -> None:
        self.sim = sim
        self.store = sim.store
        self.orders = sim.orders

    # --- transforms ----------------------------------------------------------------------------
    def order_id(self, request: Request) -> int:
        return self.sim.key_id("transaction", request, "SalesOrd")

    async def transform_fulfilment(self, request: Request) -> Response:
        order_id = self.order_id(request)
        body = await json_body(request)
        self.sim.validate_names(request, body, FULFILLMENT_SPEC, "itemFulfillment")
        sublist = body.get("item")
        raw_lines = sublist.get("items", []) if isinstance(sublist, dict) else []
        with self.store.tx() as conn:
            lines = parse_fulfil_lines(conn, raw_lines, "item.items", transform=True)
            header = parse_header(conn, body, fulfilment=True)
        txn_id = self.orders.fulfil(order_id, lines, header, unlisted_in_full=True, via="transform")
        return self.sim.created(request, "itemFulfillment", txn_id)

    async def transform_invoice(self, request: Request) -> Response:
        order_id = self.order_id(request)
        body = await json_body(request)
        self.sim.validate_names(request, body, INVOICE_SPEC, "invoice")
        with self.store.tx() as conn:
            header = parse_header(conn, body, fulfilment=False)
        txn_id = self.orders.invoice(order_id, parse_bill_lines(body), header, via="transform")
        return self.sim.created(request, "invoice", txn_id)

    # --- reading -------------------------------------------------------------------------------
    def load(self, request: Request, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        found = document(self.store, self.sim.key_id("transaction", request, kind), kind)
        if found is None:
            raise nonexistent_id()
        return found

    def lines(self, request: Request, kind: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ref = self.sim.ref
        rendered = []
        for ln in rows:
            line: dict[str, Any] = {
                "links": [],
                "line": ln["id"],
                "orderLine": ln["orderline"],
                "item": ref(request, catalog.RECORD_OF_TYPE[ln["itemtype"]], ln["item"], ln["itemname"]),
                "itemType": ln["itemtype"],
                "quantity": float(ln["quantity"]),
                "location": ref(request, "location", ln["location"], ln["locationname"])
                if ln["location"]
                else None,
            }
            if kind == FULFILMENT:
                line["itemReceive"] = True
            else:
                rate = None if ln["rate"] is None else float(ln["rate"])
                line["rate"] = rate
                line["amount"] = None if rate is None else round(rate * float(ln["quantity"]), 2)
                line["description"] = ln["memo"]
            rendered.append(compact(line))
        return rendered

    def package_lines(self, txn_id: int) -> list[dict[str, Any]]:
        return [{"links": [], **package_view(row)} for row in packages(self.store, txn_id)]

    def render(self, request: Request, kind: str, record: str) -> dict[str, Any]:
        head, rows = self.load(request, kind)
        href = f"{self.sim.base(request)}/{record}/{head['id']}"
        expand, ref, status = self.sim.expand(request), self.sim.ref, head["status"]
        customer = ref(request, "customer", head["entity"], head["entityname"]) if head["entity"] else None
        order_name = f"Sales Order #{head['ordertranid']}"
        body: dict[str, Any] = {
            "links": [{"rel": "self", "href": href}],
            "id": str(head["id"]),
            "tranId": head["tranid"],
            "externalId": head["externalid"],
            "tranDate": head["trandate"],
            "memo": head["memo"],
            "entity": customer,
            "createdFrom": ref(request, "salesOrder", head["createdfrom"], order_name),
            "createdDate": iso(head["createddate"]),
            "lastModifiedDate": iso(head["lastmodifieddate"]),
        }
        if kind == FULFILMENT:
            body["shipStatus"] = {"id": status, "refName": SHIP_STATUS_NAMES.get(status, status)}
            if head["shipmethod"]:
                body["shipMethod"] = ref(request, "shipItem", head["shipmethod"], head["shipname"])
            boxes = self.package_lines(head["id"]) if expand else None
            body["package"] = self.sim.sublist(f"{href}/package", boxes)
        else:
            body["status"] = {"id": status, "refName": INVOICE_STATUS_NAMES.get(status, status)}
            amounts = [float(ln["rate"]) * float(ln["quantity"]) for ln in rows if ln["rate"] is not None]
            body["total"] = round(sum(amounts), 2)
        body["item"] = self.sim.sublist(f"{href}/item", self.lines(request, kind, rows) if expand else None)
        return compact(body)

    async def get_fulfilment(self, request: Request) -> Response:
        return JSONResponse(self.render(request, FULFILMENT, "itemFulfillment"), media_type=SINGULAR)

    async def get_invoice(self, request: Request) -> Response:
        return JSONResponse(self.render(request, INVOICE, "invoice"), media_type=SINGULAR)

    def item_sublist(self, request: Request, kind: str, record: str) -> Response:
        head, rows = self.load(request, kind)
        href = f"{self.sim.base(request)}/{record}/{head['id']}/item"
        return JSONResponse(self.sim.sublist(href, self.lines(request, kind, rows)), media_type=COLLECTION)

    async def fulfilment_items(self, request: Request) -> Response:
        return self.item_sublist(request, FULFILMENT, "itemFulfillment")

    async def invoice_items(self, request: Request) -> Response:
        return self.item_sublist(request, INVOICE, "invoice")

    async def fulfilment_packages(self, request: Request) -> Response:
        head, _rows = self.load(request, FULFILMENT)
        href = f"{self.sim.base(request)}/itemFulfillment/{head['id']}/package"
        return JSONResponse(self.sim.sublist(href, self.package_lines(head["id"])), media_type=COLLECTION)

    async def list_fulfilments(self, request: Request) -> Response:
        base = f"type = '{FULFILMENT}'"
        return self.sim.collection(request, "itemFulfillment", TRANSACTION, DOCUMENT_FILTER, base)

    async def list_invoices(self, request: Request) -> Response:
        return self.sim.collection(request, "invoice", TRANSACTION, DOCUMENT_FILTER, f"type = '{INVOICE}'")

    def routes(self) -> list[tuple[str, str, Handler]]:
        order, fulfilment, invoice = f"{RECORD}/salesOrder", f"{RECORD}/itemFulfillment", f"{RECORD}/invoice"
        return [
            ("POST", f"{order}/{{key}}/!transform/itemFulfillment", self.transform_fulfilment),
            ("POST", f"{order}/{{key}}/!transform/invoice", self.transform_invoice),
            ("GET", fulfilment, self.list_fulfilments),
            ("GET", f"{fulfilment}/{{key}}", self.get_fulfilment),
            ("GET", f"{fulfilment}/{{key}}/item", self.fulfilment_items),
            ("GET", f"{fulfilment}/{{key}}/package", self.fulfilment_packages),
            ("GET", invoice, self.list_invoices),
            ("GET", f"{invoice}/{{key}}", self.get_invoice),
            ("GET", f"{invoice}/{{key}}/item", self.invoice_items),
        ]
