"""Node-RED 4 as the naive forwarder: installed from npm by the benchmark, one flow of three nodes.

`http in` (POST /webhooks/clarus) → `http request` (POST to the far API, keep-alive) → `http
response` (the far API's answer back to the sender). One far call per event, nothing stored:
the forwarder answers once the far API has answered, and forgets.

The install goes to `bench/.node-red/` (git-ignored) with the machine's npm; a second run finds it
there and installs nothing. `STOCKBRIDGE_BENCH_NODERED` names another directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

VERSION = "4"
HOME = Path(os.environ.get("STOCKBRIDGE_BENCH_NODERED", Path(__file__).resolve().parent / ".node-red"))


def red_js(home: Path = HOME) -> Path:
    return home / "node_modules" / "node-red" / "red.js"


def installed_version(home: Path = HOME) -> str | None:
    try:
        manifest = json.loads((home / "node_modules" / "node-red" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


def install(home: Path = HOME) -> str:
    """Node-RED 4 under `home` (npm install, once); returns its version."""
    found = installed_version(home)
    if found is not None and found.split(".")[0] == VERSION:
        return found
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise RuntimeError("the peer benchmark needs node and npm on PATH (Node.js 18 or later)")
    home.mkdir(parents=True, exist_ok=True)
    print(f"installing node-red@{VERSION} into {home} (once)", file=sys.stderr)
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(home), f"node-red@{VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    version = installed_version(home)
    if version is None:
        raise RuntimeError(f"npm install left no node-red in {home}")
    return version


def flow(path: str, far_url: str) -> list[dict[str, Any]]:
    """The forwarder: three nodes, as a person would draw them in the editor."""
    return [
        {"id": "forward", "type": "tab", "label": "naive forwarder"},
        {
            "id": "webhook",
            "type": "http in",
            "z": "forward",
            "url": path,
            "method": "post",
            "upload": False,
            "wires": [["far"]],
        },
        {
            "id": "far",
            "type": "http request",
            "z": "forward",
            "method": "POST",
            "ret": "txt",
            "paytoqs": "ignore",
            "url": far_url,
            "persist": True,  # keep-alive to the far API: the forwarder at its best
            "senderr": False,
            "headers": [],
            "wires": [["answer"]],
        },
        {
            "id": "answer",
            "type": "http response",
            "z": "forward",
            "statusCode": "",
            "headers": {},
            "wires": [],
        },
    ]


SETTINGS = """module.exports = {
    uiHost: "127.0.0.1",
    uiPort: %(port)d,
    flowFile: "flows.json",
    httpAdminRoot: false,
    credentialSecret: false,
    logging: { console: { level: "warn", metrics: false, audit: false } },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false }
};
"""


def command(workdir: Path, port: int, path: str, far_url: str, home: Path = HOME) -> list[str]:
    """Write the flow and settings into `workdir` and return the command that runs Node-RED."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "flows.json").write_text(json.dumps(flow(path, far_url), indent=2))
    (workdir / "settings.js").write_text(SETTINGS % {"port": port})
    node = shutil.which("node") or "node"
    return [node, str(red_js(home)), "--userDir", str(workdir), "--settings", str(workdir / "settings.js")]
