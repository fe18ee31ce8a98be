"""Builders for test data in the wire shapes of the external systems."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from stockbridge.config import EXAMPLE_CONFIG, Config, parse_config
from stockbridge.store.inbox_repo import InboundEvent

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def movement_event(
    sequence: int,
    sku: str,
    balances: dict[str, int],
    *,
    warehouse: str = "WH1",
    movement_type: str = "receipt",
    occurred_at: datetime | None = None,
) -> dict[str, Any]:
    when = occurred_at or T0 + timedelta(seconds=sequence)
    return {
        "id": f"evt_{warehouse}_{sequence:012d}",
        "type": "inventory.movement",
        "created_at": when.isoformat().replace("+00:00", "Z"),
        "data": {
            "warehouse_id": warehouse,
            "sequence": sequence,
            "occurred_at": when.isoformat().replace("+00:00", "Z"),
            "movement_type": movement_type,
            "sku": sku,
            "quantity": 1,
            "from_status": None,
            "to_status": None,
            "reference": None,
            "balances": [{"status": s, "quantity": q} for s, q in balances.items()],
        },
    }


def inbound(event: dict[str, Any]) -> InboundEvent:
    return InboundEvent("clarus", event["id"], event["type"], json.dumps(event, separators=(",", ":")))


def config(**overrides: Any) -> Config:
    data = yaml.safe_load(Path(EXAMPLE_CONFIG).read_text())
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return parse_config(data)
