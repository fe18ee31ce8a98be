"""Where the hub may speak HTTP to the outside (docs/security.md, API7 and API10)."""

from __future__ import annotations

import re
from pathlib import Path

import stockbridge

SRC = Path(stockbridge.__file__).parent
# Test and demo machinery, not the hub: simulators fake the far systems, the demo and the chaos day
# drive them and the oracle judges them; none of them ever sees an inbound payload.
NOT_THE_HUB = ("simulators/", "demo/", "chaos/", "oracle/", "servers.py")


def test_only_connectors_make_outbound_http_calls() -> None:
    """No URL from an inbound payload can reach an HTTP client: only connectors (and the wiring that
    builds them from configuration) import one, and they call configured base URLs."""
    speakers = {
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(r"^\s*(import httpx|from httpx)", path.read_text(), re.MULTILINE)
    }
    hub = {p for p in speakers if not p.startswith(NOT_THE_HUB)}
    assert {p for p in hub if not p.startswith("connectors/")} == {"engine/connect.py"}
