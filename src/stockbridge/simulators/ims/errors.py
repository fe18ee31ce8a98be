"""NetSuite-shaped error bodies and the request validation that produces them.

Every error the simulator sends has the shape of Oracle's SuiteTalk REST examples::

    {"type": "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.1",
     "title": "Bad Request", "status": 400,
     "o:errorDetails": [{"detail": "...", "o:errorCode": "INVALID_CONTENT",
                         "o:errorPath": "inventory.items[0].item"}]}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from starlette.responses import JSONResponse

_RFC2616 = "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html"
_STATUS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", f"{_RFC2616}#sec10.4.1"),
    401: ("Unauthorized", f"{_RFC2616}#sec10.4.2"),
    403: ("Forbidden", f"{_RFC2616}#sec10.4.4"),
    404: ("Not Found", f"{_RFC2616}#sec10.4.5"),
    405: ("Method Not Allowed", f"{_RFC2616}#sec10.4.6"),
    415: ("Unsupported Media Type", f"{_RFC2616}#sec10.4.16"),
    429: ("Too Many Requests", "https://tools.ietf.org/html/rfc6585#section-4"),
    500: ("Internal Server Error", f"{_RFC2616}#sec10.5.1"),
    503: ("Service Unavailable", f"{_RFC2616}#sec10.5.4"),
}

ERROR_MEDIA_TYPE = "application/vnd.oracle.resource+json; type=error"

INVALID_LOGIN_DETAIL = (
    "Invalid login attempt. For more details, see the Login Audit Trail in the NetSuite UI at "
    "Setup > Users/Roles > User Management > View Login Audit Trail."
)
NONEXISTENT_DETAIL = "The record instance does not exist. Provide a valid record instance ID."
CONCURRENCY_DETAIL = "Concurrent request limit exceeded. Request blocked."
REQUEST_LIMIT_DETAIL = "Request limit exceeded. Request blocked."


class ImsError(Exception):
    """An error answered to the client in NetSuite's error format."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        path: str | None = None,
        *,
        top_code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.path = path
        self.top_code = top_code
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        title, type_url = _STATUS.get(self.status, ("Error", f"{_RFC2616}#sec10"))
        entry: dict[str, Any] = {"detail": self.detail, "o:errorCode": self.code}
        if self.path is not None:
            entry["o:errorPath"] = self.path
        body: dict[str, Any] = {"type": type_url, "title": title, "status": self.status}
        if self.top_code is not None:
            body["o:errorCode"] = self.top_code
        body["o:errorDetails"] = [entry]
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body(), status_code=self.status, headers=self.headers, media_type=ERROR_MEDIA_TYPE
        )


def invalid_content(detail: str, path: str | None = None) -> ImsError:
    return ImsError(400, "INVALID_CONTENT", detail, path)


def invalid_request(detail: str) -> ImsError:
    return ImsError(400, "INVALID_REQUEST", detail)


def invalid_parameter(detail: str) -> ImsError:
    return ImsError(400, "INVALID_PARAMETER", detail)


def invalid_field_value(value: object, field: str, path: str) -> ImsError:
    return invalid_content(
        "Error while accessing resource: You have entered an Invalid Field Value "
        f"{value} for the following field: {field}",
        path,
    )


def missing_value(label: str, path: str) -> ImsError:
    return invalid_content(f"Please enter value(s) for: {label}", path)


def nonexistent_id() -> ImsError:
    return ImsError(404, "NONEXISTENT_ID", NONEXISTENT_DETAIL)


def invalid_login() -> ImsError:
    return ImsError(401, "INVALID_LOGIN", INVALID_LOGIN_DETAIL)


def unexpected_error(error_id: str) -> ImsError:
    return ImsError(500, "UNEXPECTED_ERROR", f"An unexpected error occurred. Error ID: {error_id}")


def service_unavailable() -> ImsError:
    return ImsError(503, "SERVICE_UNAVAILABLE", "The service is temporarily unavailable (simulated outage).")


def concurrency_exceeded() -> ImsError:
    return ImsError(429, "CONCURRENCY_LIMIT_EXCEEDED", CONCURRENCY_DETAIL, top_code="USER_ERROR")


def request_limit_exceeded(retry_after: str) -> ImsError:
    return ImsError(
        429,
        "REQUEST_LIMIT_EXCEEDED",
        REQUEST_LIMIT_DETAIL,
        top_code="USER_ERROR",
        headers={"Retry-After": retry_after},
    )


# --- property-name validation (X-NetSuite-PropertyNameValidation: error) -------------------------
#
# A spec maps each allowed property to None (a scalar, not inspected further), to a nested spec
# (an object) or to a one-element list holding the spec of each element (an array of objects).
Spec = Mapping[str, "Spec | list[Spec] | None"]

REF_SPEC: Spec = {"id": None, "externalId": None, "refName": None, "links": None}


def sublist_spec(line: Spec) -> Spec:
    return {"items": [line], "links": None, "replaceAll": None}


def _scalars(names: str) -> dict[str, Spec | list[Spec] | None]:
    return dict.fromkeys(names.split())


def _refs(names: str) -> dict[str, Spec | list[Spec] | None]:
    return dict.fromkeys(names.split(), REF_SPEC)


# Read-only fields (id, links, ...) are accepted and ignored, as a client may send back what it read.
ITEM_SPEC: Spec = _scalars(
    "itemId displayName externalId isInactive upcCode id links refName itemType createdDate lastModifiedDate"
)
ADJUSTMENT_LINE_SPEC: Spec = {
    **_scalars("adjustQtyBy memo line links"),
    **_refs("item location department class"),
}
ADJUSTMENT_SPEC: Spec = {
    **_scalars("externalId memo tranDate id links tranId createdDate lastModifiedDate"),
    **_refs("account adjLocation subsidiary department class customer postingPeriod"),
    "inventory": sublist_spec(ADJUSTMENT_LINE_SPEC),
}
SUITEQL_SPEC: Spec = {"q": None}
ADDRESS_SPEC: Spec = {
    **_scalars("addressee addr1 addr2 city state zip addrPhone addrText override links"),
    "country": REF_SPEC,
}
SALES_ORDER_LINE_SPEC: Spec = {
    **_scalars(
        "line quantity rate amount description isClosed links quantityFulfilled quantityCommitted itemType "
        "quantityBilled"
    ),
    **_refs("item location"),
}
SALES_ORDER_SPEC: Spec = {
    **_scalars("externalId memo email tranId tranDate id links createdDate lastModifiedDate shipAddress"),
    **_refs("entity orderStatus shipMethod location subsidiary currency"),
    "shippingAddress": ADDRESS_SPEC,
    "item": sublist_spec(SALES_ORDER_LINE_SPEC),
}
FULFILLMENT_LINE_SPEC: Spec = {
    **_scalars("orderLine quantity itemreceive itemReceive line links"),
    **_refs("item location"),
}
PACKAGE_SPEC: Spec = _scalars("packageTrackingNumber packageWeight packageDescr links")
FULFILLMENT_SPEC: Spec = {
    **_scalars("externalId memo tranDate id links tranId createdDate lastModifiedDate"),
    **_refs("shipStatus shipMethod entity createdFrom"),
    "item": sublist_spec(FULFILLMENT_LINE_SPEC),
    "package": sublist_spec(PACKAGE_SPEC),
}
INVOICE_LINE_SPEC: Spec = {
    **_scalars("orderLine quantity line links rate amount description itemType"),
    **_refs("item location"),
}
INVOICE_SPEC: Spec = {
    **_scalars("externalId memo tranDate id links tranId createdDate lastModifiedDate total"),
    **_refs("entity createdFrom status"),
    "item": sublist_spec(INVOICE_LINE_SPEC),
}


def check_property_names(value: object, spec: Spec, record: str, path: str = "") -> None:
    """Raise INVALID_CONTENT naming the first property that `spec` does not allow."""
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in spec:
            raise invalid_content(
                f'Error while accessing resource: Invalid field name "{key}" for record {record}. '
                "Provide a valid field name.",
                where,
            )
        sub = spec[key]
        if isinstance(sub, list):
            if isinstance(item, list):
                for index, element in enumerate(item):
                    check_property_names(element, sub[0], record, f"{where}[{index}]")
        elif sub is not None:
            check_property_names(item, sub, record, where)


# --- inventoryAdjustment validation -------------------------------------------------------------
class Lookup(Protocol):
    def find_id(self, table: str, key: str) -> int | None: ...
    def item(self, item_id: int) -> dict[str, Any] | None: ...
    def location(self, lid: int) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class AdjustmentLine:
    item: int
    location: int
    quantity: float
    memo: str | None


@dataclass(frozen=True)
class Adjustment:
    account: int
    adj_location: int | None
    memo: str | None
    tran_date: str | None
    lines: tuple[AdjustmentLine, ...]


def as_id(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _ref(db: Lookup, value: object, table: str, label: str, field: str, path: str) -> int:
    """Resolve a reference given as {"id": ...}, {"externalId": ...} or a bare id."""
    if value is None or value == {}:
        raise missing_value(label, path)
    raw: object = value
    if isinstance(value, dict):
        if value.get("id") is not None:
            raw = value["id"]
        elif isinstance(value.get("externalId"), str):
            raw = value["externalId"]
            found = db.find_id(table, f"eid:{raw}")
            if found is None:
                raise invalid_field_value(raw, field, path)
            return found
        else:
            raise missing_value(label, path)
    rid = as_id(raw)
    if rid is None or db.find_id(table, str(rid)) is None:
        raise invalid_field_value(raw, field, path)
    return rid


def parse_adjustment(db: Lookup, body: Mapping[str, Any], max_lines: int) -> Adjustment:
    """Validate an inventoryAdjustment body against the current state (raises INVALID_* errors)."""
    account = body.get("account")
    if account is None:
        raise missing_value("Adjustment Account", "account")
    account_id = as_id(account.get("id") if isinstance(account, dict) else account)
    if account_id is None:
        raise invalid_field_value(account, "account", "account")
    adj_location = None
    if body.get("adjLocation") is not None:
        adj_location = _ref(
            db, body["adjLocation"], "location", "Adjustment Location", "adjlocation", "adjLocation"
        )
    tran_date = body.get("tranDate")
    if tran_date is not None:
        try:
            datetime.strptime(str(tran_date), "%Y-%m-%d")
        except ValueError:
            raise invalid_field_value(tran_date, "trandate", "tranDate") from None
    memo = body.get("memo")
    inventory = body.get("inventory")
    lines = inventory.get("items") if isinstance(inventory, dict) else None
    if not isinstance(lines, list) or not lines:
        raise invalid_content(
            "You must enter at least one line item for this transaction.", "inventory.items"
        )
    if len(lines) > max_lines:
        raise invalid_request(
            f"The request has {len(lines)} lines in inventory.items; the maximum is {max_lines} per request."
        )
    parsed = tuple(_parse_line(db, line, i) for i, line in enumerate(lines))
    return Adjustment(account_id, adj_location, _text(memo), _text(tran_date), parsed)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _parse_line(db: Lookup, line: object, index: int) -> AdjustmentLine:
    path = f"inventory.items[{index}]"
    if not isinstance(line, dict):
        raise invalid_content("Each line must be an object.", path)
    item_id = _ref(db, line.get("item"), "item", "Item", "item", f"{path}.item")
    item = db.item(item_id) or {}
    if item.get("isinactive") == "T":
        raise invalid_content(
            f"Error while accessing resource: The item {item['itemid']} (internal id {item_id}) is "
            "inactive. You cannot use an inactive item in a transaction.",
            f"{path}.item",
        )
    location_id = _ref(db, line.get("location"), "location", "Location", "location", f"{path}.location")
    if (db.location(location_id) or {}).get("isinactive") == "T":
        raise invalid_field_value(location_id, "location", f"{path}.location")
    qty = line.get("adjustQtyBy")
    if qty is None:
        raise missing_value("Adjust Qty. By", f"{path}.adjustQtyBy")
    if isinstance(qty, bool) or not isinstance(qty, int | float) or not math.isfinite(qty):
        raise invalid_field_value(qty, "adjustqtyby", f"{path}.adjustQtyBy")
    if qty == 0:
        raise invalid_content(
            "Error while accessing resource: Adjust Qty. By must not be zero.", f"{path}.adjustQtyBy"
        )
    return AdjustmentLine(item_id, location_id, float(qty), _text(line.get("memo")))
