"""The flows talk to the outside only through their ports (`flows/ports.py`, `flows/edge_ports.py`):
no module in `flows/` imports a connector (issue 9: `grep -rn "stockbridge.connectors"
src/stockbridge/flows` finds nothing). Wire formats become domain types at the connector's edge."""

from __future__ import annotations

import ast
from pathlib import Path

import stockbridge.flows

FLOWS = Path(stockbridge.flows.__file__).parent


# Being rewritten in parallel as the generic stock pusher (issue 9, part 1, engineer "port"); drop it
# from here when that lands (the last test below fails to say so).
def _imported(source: str) -> set[str]:
    """Every module an import in a flow's `source` names, `from x import y` counted as x and x.y."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to stockbridge.flows (level 1) or stockbridge (level 2)
                package = ["stockbridge", "flows"][: 3 - node.level]
                base = ".".join([*package, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _connector_imports(source: str) -> list[str]:
    return sorted(
        m
        for m in _imported(source)
        if m == "stockbridge.connectors" or m.startswith("stockbridge.connectors.")
    )


def _offending(path: Path) -> list[str]:
    return _connector_imports(path.read_text(encoding="utf-8"))


def test_no_flow_imports_a_connector() -> None:
    modules = sorted(FLOWS.glob("*.py"))
    assert len(modules) >= 10
    found = {p.name: _offending(p) for p in modules}
    assert {name: imports for name, imports in found.items() if imports} == {}


def test_the_rule_catches_every_way_of_importing_a_connector() -> None:
    assert _connector_imports("from stockbridge.connectors.clarus.wire import parse_event\n")
    assert _connector_imports("import stockbridge.connectors.errors\n")
    assert _connector_imports("from stockbridge import connectors\n")
    assert _connector_imports("from ..connectors import http\n")
    assert _connector_imports("def f() -> None:\n    from stockbridge.connectors.notify import LogNotifier\n")
    assert not _connector_imports("from stockbridge.domain.errors import RetriableError\n")
    assert not _connector_imports("from .edge_ports import WarehouseOrders\n")
