"""The oracle judges the hub, so it must not share the hub's rules: pin what it may import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import stockbridge.oracle

ORACLE = Path(stockbridge.oracle.__file__).parent
# The standard library, httpx, and the oracle's own modules. Nothing else of stockbridge: not the
# domain, flows, store, engine or connectors, nor the config model (it builds the hub's rules).
ALLOWED_THIRD_PARTY = {"httpx"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import; write stockbridge.oracle.…"
            found.add(node.module or "")
    return found


def _forbidden(module: str) -> bool:
    top = module.split(".")[0]
    if top == "stockbridge":
        return not (module == "stockbridge.oracle" or module.startswith("stockbridge.oracle."))
    if top == "__future__":
        return False
    return top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY


def test_the_oracle_imports_nothing_of_the_hub() -> None:
    modules = sorted(ORACLE.glob("*.py"))
    assert len(modules) >= 5
    offending = {path.name: sorted(m for m in _imports(path) if _forbidden(m)) for path in modules}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_rule_catches_a_hub_import() -> None:
    assert _forbidden("stockbridge.domain.ats")
    assert _forbidden("stockbridge.config")
    assert _forbidden("pydantic")
    assert not _forbidden("stockbridge.oracle.catalog")
    assert not _forbidden("collections.abc")
    assert not _forbidden("httpx")


def test_importing_the_oracle_loads_none_of_the_hub() -> None:
    """Transitively too: a fresh interpreter that imports the oracle has no hub module loaded."""
    code = (
        "import sys, stockbridge.oracle; "
        "print(sorted(m for m in sys.modules if m.startswith('stockbridge.') "
        "and not m.startswith('stockbridge.oracle')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_demo_and_the_e2e_tests_judge_with_the_oracle_not_the_hubs_rules() -> None:
    """Issue 8: `grep -rnE "available_to_sell|ats_rule|prepare\\(" src/stockbridge/demo tests/e2e`
    finds nothing: a bug in the hub's ATS rule or order pipeline could never show otherwise."""
    root = ORACLE.parent.parent.parent
    pattern = re.compile(r"available_to_sell|ats_rule|prepare\(")
    files = [*(root / "src/stockbridge/demo").rglob("*.py"), *(root / "tests/e2e").rglob("*.py")]
    assert len(files) >= 5
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in files
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line)
    ]
    assert found == []
