"""Reading the simulators' own state over their control APIs (docs/simulators/)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from stockbridge.oracle.catalog import Catalog
from stockbridge.oracle.settings import OracleSettings


@dataclass(frozen=True)
class Truth:
    """One reading of both simulators. Each part is the control API's JSON, unchanged."""

    clarus_state: dict[str, Any]
    clarus_items: dict[str, Any]
    clarus_orders: dict[str, Any]
    clarus_shipments: dict[str, Any]
    ims_state: dict[str, Any]
    ims_orders: dict[str, Any]
    ims_fulfilments: list[dict[str, Any]]

    def catalog(self, settings: OracleSettings) -> Catalog:
        return Catalog.read(self.ims_state, self.clarus_items, settings.sku_rules)


def suiteql(
    http: httpx.Client,
    ims_url: str,
    token: str,
    query: str,
    *,
    every_page: bool = True,
    patience_s: float = 60.0,
) -> list[dict[str, Any]]:
    """Rows of a SuiteQL query, page after page (or only the first), as the IMS returns them.

    The oracle reads under the account's limits beside a hub that is still pushing: a 429 is the
    IMS's limit, not an answer, so it waits as `Retry-After` says (bounded) and asks again.
    """
    rows: list[dict[str, Any]] = []
    while True:
        deadline = time.monotonic() + patience_s
        while True:
            response = http.post(
                f"{ims_url}/services/rest/query/v1/suiteql",
                params={"limit": 1000, "offset": len(rows)},
                headers={"Authorization": f"Bearer {token}", "Prefer": "transient"},
                json={"q": query},
            )
            if response.status_code != 429 or time.monotonic() > deadline:
                break
            time.sleep(min(_seconds(response.headers.get("Retry-After")), 2.0))
        response.raise_for_status()
        page = response.json()
        rows += page["items"]
        if not (every_page and page.get("hasMore")):
            return rows


def _seconds(retry_after: str | None) -> float:
    try:
        return max(0.0, float(retry_after or "0.25"))
    except ValueError:
        return 0.25


def _get(http: httpx.Client, url: str, key: str) -> Any:
    response = http.get(url)
    response.raise_for_status()
    return response.json()[key]


def read_stock(http: httpx.Client, clarus_url: str, ims_url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Just the two stock states: Clarus `/_control/state` and IMS `/_control/state`."""
    clarus = http.get(f"{clarus_url}/_control/state")
    ims = http.get(f"{ims_url}/_control/state")
    clarus.raise_for_status()
    ims.raise_for_status()
    return clarus.json(), ims.json()


def clarus_events(
    http: httpx.Client, clarus_url: str, api_key: str, warehouse: str, types: str = "inventory.movement"
) -> list[dict[str, Any]]:
    """Every event of `warehouse` from the Clarus events feed (`GET /api/v1/events`), oldest first."""
    events: list[dict[str, Any]] = []
    after = 0
    while True:
        response = http.get(
            f"{clarus_url}/api/v1/events",
            params={"warehouse_id": warehouse, "after_sequence": after, "limit": 1000, "types": types},
            headers={"Authorization": f"Bearer {api_key}"},
        )
        response.raise_for_status()
        page = response.json()
        events += page["data"]
        after = int(page["next_after_sequence"])
        if not page["has_more"]:
            return events


def read_truth(http: httpx.Client, clarus_url: str, ims_url: str) -> Truth:
    clarus_state, ims_state = read_stock(http, clarus_url, ims_url)
    return Truth(
        clarus_state=clarus_state,
        clarus_items=_get(http, f"{clarus_url}/_control/items", "items"),
        clarus_orders=_get(http, f"{clarus_url}/_control/orders", "orders"),
        clarus_shipments=_get(http, f"{clarus_url}/_control/shipments", "shipments"),
        ims_state=ims_state,
        ims_orders=_get(http, f"{ims_url}/_control/sales_orders", "orders"),
        ims_fulfilments=_get(http, f"{ims_url}/_control/fulfilments", "fulfilments"),
    )
