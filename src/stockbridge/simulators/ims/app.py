"""NetSuite's record, query (SuiteQL) and token APIs. Every call goes through `limits.Gate`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import suiteql
from .auth import Authenticator, Credentials
from .document_records import DocumentRecords
from .errors import (
    ADJUSTMENT_SPEC,
    ITEM_SPEC,
    SUITEQL_SPEC,
    ImsError,
    Spec,
    check_property_names,
    invalid_content,
    invalid_request,
    nonexistent_id,
)
from .limits import Faults, Gate, Handler, Limiter, Stats
from .records import SUPPORTED_RECORDS, OrderRecords
from .sales_orders import SalesOrders
from .store import DEFAULT_LOCATIONS, ImsStore, Row, utc_now
from .web import COLLECTION, RECORD, SINGULAR, SUITEQL, TOKEN, compact, int_param, iso, json_body, links_for

ITEM_FILTER = suiteql.fields(
    "id:id:number itemId:itemid:text displayName:displayname:text externalId:externalid:text "
    "upcCode:upccode:text isInactive:isinactive:bool lastModifiedDate:lastmodifieddate:date"
)
LOCATION_FILTER = suiteql.fields("id:id:number name:name:text isInactive:isinactive:bool")
ADJUSTMENT_FILTER = suiteql.fields(
    "id:id:number externalId:externalid:text tranDate:trandate:date lastModifiedDate:lastmodifieddate:date"
)


@dataclass
class ImsSettings:
    """Start-up configuration. Faults and limits can be changed at run time through /_control."""

    account_id: str = "1234567_SB1"
    bearer_tokens: list[str] = field(default_factory=lambda: ["ims-dev-token"])
    client_id: str = "ims-client-id"
    client_secret: str = "ims-client-secret"
    consumer_key: str = "ims-consumer-key"
    consumer_secret: str = "ims-consumer-secret"
    token_id: str = "ims-token-id"
    token_secret: str = "ims-token-secret"
    token_ttl_seconds: int = 3600
    concurrency_limit: int = 5
    calls_per_second: float | None = None
    max_lines_per_request: int = 1000
    fail_rate: float = 0.0
    outage: bool = False
    latency_ms: float = 0.0
    fail_after_commit_rate: float = 0.0
    seed: int = 0
    locations: list[tuple[str, str]] = field(default_factory=lambda: list(DEFAULT_LOCATIONS))
    require_prefer_transient: bool = True
    clock: Callable[[], datetime] = utc_now  # stamps createdDate / lastModifiedDate (aware, UTC)


class ImsSimulator:
    def __init__(self, settings: ImsSettings) -> None:
        s = self.settings = settings
        self.store = ImsStore(s.locations, s.clock)
        self.orders = SalesOrders(self.store)
        secrets = (s.consumer_key, s.consumer_secret, s.token_id, s.token_secret, s.token_ttl_seconds)
        creds = Credentials(s.account_id, tuple(s.bearer_tokens), s.client_id, s.client_secret, *secrets)
        self.auth = Authenticator(creds)
        self.limiter = Limiter(s.concurrency_limit, s.calls_per_second)
        self.faults = Faults()
        self.stats = Stats()
        self.real = Gate(self.auth, self.limiter, self.faults, self.stats).wrap
        self.max_lines = s.max_lines_per_request
        self.restore_settings()

    def restore_settings(self) -> None:
        """Faults and limits back to the start-up settings (the RNG is re-seeded)."""
        s = self.settings
        self.limiter.configure(s.concurrency_limit, s.calls_per_second)
        self.max_lines = s.max_lines_per_request
        faults = dict(fail_rate=s.fail_rate, outage=s.outage, latency_ms=s.latency_ms, seed=s.seed)
        self.faults.update(
            {**faults, "fail_after_commit_rate": s.fail_after_commit_rate, "fail_after_commit_next": 0}
        )

    # --- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def base(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}{RECORD}"

    @staticmethod
    def validate_names(request: Request, body: dict[str, Any], spec: Spec, record: str) -> None:
        if request.headers.get("x-netsuite-propertynamevalidation", "").strip().lower() == "error":
            check_property_names(body, spec, record)

    @staticmethod
    def expand(request: Request) -> bool:
        return request.query_params.get("expandSubResources", "").lower() == "true"

    @staticmethod
    def upsert_key(request: Request) -> str:
        key: str = request.path_params["key"]
        if not key.startswith("eid:") or len(key) <= 4:
            raise invalid_request("PUT (upsert) needs an external id key: /{recordType}/eid:{externalId}.")
        return key[4:]

    def ref(self, request: Request, record: str, rid: object, name: str | None = None) -> dict[str, Any]:
        links = [{"rel": "self", "href": f"{self.base(request)}/{record}/{rid}"}]
        return compact({"links": links, "id": str(rid), "refName": name})

    def key_id(self, table: str, request: Request, kind: str | None = None) -> int:
        found = self.store.find_id(table, request.path_params["key"], kind)
        if found is None:
            raise nonexistent_id()
        return found

    def created(self, request: Request, record: str, rid: int) -> Response:
        return Response(status_code=204, headers={"Location": f"{self.base(request)}/{record}/{rid}"})

    @staticmethod
    def sublist(href: str, items: list[dict[str, Any]] | None) -> dict[str, Any]:
        links = [{"rel": "self", "href": href}]
        if items is None:
            return {"links": links}
        n = len(items)
        return {"links": links, "count": n, "hasMore": False, "items": items, "offset": 0, "totalResults": n}

    def collection(
        self, request: Request, record: str, table: str, filters: dict[str, suiteql.Field], base: str = ""
    ) -> Response:
        """A record collection; `base` is the SQL condition selecting this record type's rows."""
        limit, offset = int_param(request, "limit", 1000), int_param(request, "offset", 0)
        q = request.query_params.get("q", "").strip()
        try:
            suiteql.check_paging(limit, offset)
            where, params = suiteql.compile_filter(q, filters) if q else ("", [])
        except suiteql.SuiteQLError as error:
            raise ImsError(400, error.code, error.detail) from None
        where = " AND ".join(f"({w})" for w in (base, where) if w)
        ids, total = self.store.list_ids(table, where, params, limit, offset)
        href = f"{self.base(request)}/{record}"
        items = [{"links": [{"rel": "self", "href": f"{href}/{i}"}], "id": str(i)} for i in ids]
        body = {
            "links": links_for(href, {"q": q} if q else {}, total, limit, offset),
            "count": len(items),
            "hasMore": offset + len(items) < total,
            "items": items,
            "offset": offset,
            "totalResults": total,
        }
        return JSONResponse(body, media_type=COLLECTION)

    # --- inventory items -------------------------------------------------------------------------
    def item_locations(self, request: Request, item_id: int) -> list[dict[str, Any]]:
        return [
            {
                "links": [],
                "location": self.ref(request, "location", r["location"], r["name"]),
                "quantityOnHand": float(r["quantityonhand"]),
                "quantityAvailable": float(r["quantityavailable"]),
                "quantityCommitted": float(r["quantitycommitted"]),
            }
            for r in self.store.item_locations(item_id)
        ]

    def render_item(self, request: Request, row: Row) -> dict[str, Any]:
        href = f"{self.base(request)}/inventoryItem/{row['id']}"
        locations = self.item_locations(request, row["id"]) if self.expand(request) else None
        record = {
            "links": [{"rel": "self", "href": href}],
            "id": str(row["id"]),
            "itemId": row["itemid"],
            "displayName": row["displayname"],
            "externalId": row["externalid"],
            "isInactive": row["isinactive"] == "T",
            "upcCode": row["upccode"],
            "itemType": "inventoryItem",
            "createdDate": iso(row["createddate"]),
            "lastModifiedDate": iso(row["lastmodifieddate"]),
            "locations": self.sublist(f"{href}/locations", locations),
        }
        return compact(record)

    async def list_items(self, request: Request) -> Response:
        return self.collection(request, "inventoryItem", "item", ITEM_FILTER, "itemtype = 'InvtPart'")

    async def get_item(self, request: Request) -> Response:
        row = self.store.item(self.key_id("item", request, "InvtPart"))
        return JSONResponse(self.render_item(request, row or {}), media_type=SINGULAR)

    async def item_location_sublist(self, request: Request) -> Response:
        item_id = self.key_id("item", request, "InvtPart")
        href = f"{self.base(request)}/inventoryItem/{item_id}/locations"
        return JSONResponse(self.sublist(href, self.item_locations(request, item_id)), media_type=COLLECTION)

    async def create_item(self, request: Request) -> Response:
        body = await json_body(request)
        self.validate_names(request, body, ITEM_SPEC, "inventoryItem")
        return self.created(request, "inventoryItem", self.store.create_item(body))

    async def patch_item(self, request: Request) -> Response:
        body = await json_body(request)
        self.validate_names(request, body, ITEM_SPEC, "inventoryItem")
        self.store.update_item(self.key_id("item", request, "InvtPart"), body)
        return Response(status_code=204)

    async def put_item(self, request: Request) -> Response:
        external_id = self.upsert_key(request)
        body = await json_body(request)
        self.validate_names(request, body, ITEM_SPEC, "inventoryItem")
        item_id, _created = self.store.upsert_item_by_external_id(external_id, body)
        return self.created(request, "inventoryItem", item_id)

    # --- locations -------------------------------------------------------------------------------
    async def list_locations(self, request: Request) -> Response:
        return self.collection(request, "location", "location", LOCATION_FILTER)

    async def get_location(self, request: Request) -> Response:
        row = self.store.location(self.key_id("location", request)) or {}
        links = [{"rel": "self", "href": f"{self.base(request)}/location/{row['id']}"}]
        body = {
            "links": links,
            "id": str(row["id"]),
            "name": row["name"],
            "isInactive": row["isinactive"] == "T",
        }
        return JSONResponse(body, media_type=SINGULAR)

    # --- inventory adjustments -------------------------------------------------------------------
    async def post_adjustment(self, request: Request, external_id: str | None = None) -> Response:
        body = await json_body(request)
        self.validate_names(request, body, ADJUSTMENT_SPEC, "inventoryAdjustment")
        upsert = external_id is not None
        if external_id is None:
            external_id = None if body.get("externalId") is None else str(body["externalId"])
        elif body.get("externalId") not in (None, external_id):
            raise invalid_content("The externalId in the body differs from the one in the URL.", "externalId")
        txn_id, replaced = self.store.post_adjustment(body, self.max_lines, external_id, upsert=upsert)
        if replaced:
            self.stats.adjustments_replaced += 1
        return self.created(request, "inventoryAdjustment", txn_id)

    async def put_adjustment(self, request: Request) -> Response:
        return await self.post_adjustment(request, self.upsert_key(request))

    async def list_adjustments(self, request: Request) -> Response:
        base = "type = 'InvAdjst'"
        return self.collection(request, "inventoryAdjustment", '"transaction"', ADJUSTMENT_FILTER, base)

    def adjustment_lines(self, request: Request, lines: list[Row]) -> list[dict[str, Any]]:
        rendered = []
        for ln in lines:
            item = self.ref(request, "inventoryItem", ln["item"], ln["itemname"])
            location = self.ref(request, "location", ln["location"], ln["locationname"])
            line = {"links": [], "line": ln["id"], "item": item, "location": location}
            rendered.append(compact({**line, "adjustQtyBy": float(ln["quantity"]), "memo": ln["memo"]}))
        return rendered

    async def get_adjustment(self, request: Request) -> Response:
        head, lines = self.store.adjustment(self.key_id("transaction", request, "InvAdjst")) or ({}, [])
        href = f"{self.base(request)}/inventoryAdjustment/{head['id']}"
        adj_location = None
        if head["adjlocation"] is not None:
            name = (self.store.location(head["adjlocation"]) or {}).get("name")
            adj_location = self.ref(request, "location", head["adjlocation"], name)
        expanded = self.adjustment_lines(request, lines) if self.expand(request) else None
        body = {
            "links": [{"rel": "self", "href": href}],
            "id": str(head["id"]),
            "tranId": head["tranid"],
            "externalId": head["externalid"],
            "tranDate": head["trandate"],
            "memo": head["memo"],
            "account": self.ref(request, "account", head["account"]),
            "adjLocation": adj_location,
            "createdDate": iso(head["createddate"]),
            "lastModifiedDate": iso(head["lastmodifieddate"]),
            "inventory": self.sublist(f"{href}/inventory", expanded),
        }
        return JSONResponse(compact(body), media_type=SINGULAR)

    async def adjustment_sublist(self, request: Request) -> Response:
        head, lines = self.store.adjustment(self.key_id("transaction", request, "InvAdjst")) or ({}, [])
        href = f"{self.base(request)}/inventoryAdjustment/{head['id']}/inventory"
        return JSONResponse(self.sublist(href, self.adjustment_lines(request, lines)), media_type=COLLECTION)

    async def unknown_record(self, request: Request) -> Response:
        record = request.path_params.get("rest", "").split("/")[0]
        if record in SUPPORTED_RECORDS:
            raise ImsError(
                405, "INVALID_REQUEST", f"{request.method} is not supported here by the IMS simulator."
            )
        raise ImsError(
            404, "NONEXISTENT_ID", f"Record type '{record}' is not supported by the IMS simulator."
        )

    # --- SuiteQL and OAuth 2.0 token ---------------------------------------------------------------
    async def suiteql(self, request: Request) -> Response:
        if (
            self.settings.require_prefer_transient
            and "transient" not in request.headers.get("prefer", "").lower()
        ):
            raise invalid_request("The Prefer: transient header is required for SuiteQL queries.")
        body = await json_body(request)
        self.validate_names(request, body, SUITEQL_SPEC, "suiteql")
        q = body.get("q")
        if not isinstance(q, str) or not q.strip():
            raise invalid_request('The request body must hold the query: {"q": "SELECT ..."}.')
        limit, offset = int_param(request, "limit", 1000), int_param(request, "offset", 0)
        try:
            page = self.store.suiteql(q, limit, offset)
        except suiteql.SuiteQLError as error:
            raise ImsError(400, error.code, error.detail) from None
        href = f"{request.url.scheme}://{request.url.netloc}{SUITEQL}"
        body = {
            "links": links_for(href, {}, page.total, limit, offset),
            "count": len(page.items),
            "hasMore": page.has_more,
            "items": [{"links": [], **item} for item in page.items],
            "offset": offset,
            "totalResults": page.total,
        }
        return JSONResponse(body, media_type=COLLECTION)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = self.auth.issue_token(form, request.headers.get("authorization"))
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    def routes(self) -> list[Route]:
        item, adjustment = f"{RECORD}/inventoryItem", f"{RECORD}/inventoryAdjustment"
        table: list[tuple[str, str, Handler]] = [
            ("POST", SUITEQL, self.suiteql),
            ("GET", item, self.list_items),
            ("POST", item, self.create_item),
            ("GET", f"{item}/{{key}}", self.get_item),
            ("PATCH", f"{item}/{{key}}", self.patch_item),
            ("PUT", f"{item}/{{key}}", self.put_item),
            ("GET", f"{item}/{{key}}/locations", self.item_location_sublist),
            ("GET", f"{RECORD}/location", self.list_locations),
            ("GET", f"{RECORD}/location/{{key}}", self.get_location),
            ("GET", adjustment, self.list_adjustments),
            ("POST", adjustment, self.post_adjustment),
            ("GET", f"{adjustment}/{{key}}", self.get_adjustment),
            ("PUT", f"{adjustment}/{{key}}", self.put_adjustment),
            ("GET", f"{adjustment}/{{key}}/inventory", self.adjustment_sublist),
            *OrderRecords(self).routes(),
            *DocumentRecords(self).routes(),
        ]
        routes = [Route(TOKEN, self.real("token", self.token, governed=False), methods=["POST"])]
        for method, path, handler in table:
            label = "suiteql" if path == SUITEQL else path.removeprefix(RECORD + "/")
            routes.append(Route(path, self.real(label, handler), methods=[method]))
        anything = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        routes.append(
            Route(f"{RECORD}/{{rest:path}}", self.real("unknown", self.unknown_record), methods=anything)
        )
        return routes
