"""What the daily finance batch should have posted to the IMS, from the warehouse's own events.

Re-written from the documented meaning (docs/configuration.md `finance`, docs/decisions/0030), not
from the hub's rules: a Clarus `write_off` is a write-off, a `count` a count correction, a
`status_change` into or out of `damaged` a damage; a movement's units are what it changed in the
statuses that count for the IMS; one adjustment per (IMS location, day, account), one line per SKU
and reason, lines that net to 0 left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

Key = tuple[str, str, str]  # (IMS location, YYYY-MM-DD, account)


def _reason(data: Mapping[str, Any]) -> str | None:
    kind = data.get("movement_type")
    if kind == "write_off":
        return "WRITE_OFF"
    if kind == "count":
        return "COUNT"
    if kind == "status_change" and "damaged" in (data.get("from_status"), data.get("to_status")):
        return "DAMAGE"
    return None


def expected_adjustments(
    events: Iterable[Mapping[str, Any]],
    counted_statuses: frozenset[str],
    locations: Mapping[str, str],
    accounts: Mapping[str, str],
) -> dict[Key, dict[tuple[str, str], int]]:
    """(location, day, account) -> {(SKU, reason): units} for Clarus `inventory.movement` events (as
    the simulator sends them; each counted once by its id). `locations`: warehouse -> IMS location;
    `accounts`: reason -> account, as configured. Days are UTC days of `occurred_at`."""
    seen: set[str] = set()
    found: dict[Key, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for event in events:
        if event.get("type") != "inventory.movement" or event["id"] in seen:
            continue
        seen.add(event["id"])
        data = event["data"]
        reason = _reason(data)
        location = locations.get(data["warehouse_id"])
        if reason is None or reason not in accounts or location is None:
            continue
        units = 0
        if data.get("from_status") in counted_statuses:
            units -= int(data["quantity"])
        if data.get("to_status") in counted_statuses:
            units += int(data["quantity"])
        if units:
            key = (location, str(data["occurred_at"])[:10], accounts[reason])
            found[key][(data["sku"], reason)] += units
    return {
        key: {line: q for line, q in lines.items() if q}
        for key, lines in found.items()
        if any(lines.values())
    }


def posted_adjustments(
    records: Iterable[Mapping[str, Any]], prefix: str = "FIN-"
) -> dict[Key, dict[tuple[str, str], int]]:
    """The same shape from IMS inventory adjustment records (`GET /inventoryAdjustment/{id}` with
    `expandSubResources=true`) whose external id starts with `prefix`; the reason is the first word
    of each line's memo. Two records of one key add up (a doubled batch shows doubled)."""
    found: dict[Key, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        if not str(record.get("externalId") or "").startswith(prefix):
            continue
        key = (str(record["adjLocation"]["id"]), str(record["tranDate"]), str(record["account"]["id"]))
        for line in record["inventory"]["items"]:
            reason = str(line.get("memo") or "").split(" ")[0]
            found[key][(str(line["item"]["refName"]), reason)] += round(float(line["adjustQtyBy"]))
    return {key: dict(lines) for key, lines in found.items()}
