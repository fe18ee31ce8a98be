"""Peer: the hub against a naive forwarder (Node-RED 4) and a bare endpoint, on the same burst.

One burst of signed Clarus movement webhooks (`--events` over `--skus` SKUs, one in twenty a
re-delivery) is sent by the same keep-alive load generator (bench/loadgen.py), in the same run, to:

- the **bare endpoint** (bench/bare_app.py): answers 200, does nothing; measured before and after
  the others and averaged, so a machine that got busier during the run shows in the two figures;
- **Node-RED 4** (bench/nodered.py, installed from npm by this script): http in → http request →
  http response, one call per event to a counting sink (bench/sink.py) standing for the far API;
  nothing stored, no signature checked;
- **the hub** (`stockbridge serve`, webhook API and workers in one process, SQLite with
  `synchronous=FULL`): checks each signature, validates, stores before answering, then folds and
  pushes to the IMS simulator (10 calls/s, 100 lines a call) until every SKU's figure there is the
  one the burst's last movement says.

Reported: events/s ÷ bare endpoint for both, and far-API calls ÷ events for both: the sink's count
for Node-RED; for the hub, every call the IMS simulator counted from the burst's first event until
its figures matched (reads included).

    python bench/peer.py [--events N] [--skus N] [--connections C] [--seconds S] [--json] [--record]
    python bench/peer.py --hub-only [--profile FILE] [--events N] [--skus N]  # the hub alone, sampled
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import yaml

import nodered
from common import clarus_command, cpu_seconds, database, process, python, record, wait_http
from loadgen import LoadResult, build_request, drive
from stockbridge.connectors.clarus.signature import sign
from stockbridge.demo.harness import issue_token
from stockbridge.demo.traffic import sku_name
from stockbridge.servers import free_port

HOST = "127.0.0.1"
PATH = "/webhooks/clarus"
SECRET = "bench-webhook-secret"
CLARUS_KEY = "bench-clarus-key"
IMS_TOKEN = "bench-ims-token"
LOCATION = "6"
WARM_UP = 2000


def quantity(sequence: int) -> int:
    """A figure that looks random but is the same for every delivery of one sequence."""
    return int.from_bytes(hashlib.blake2b(str(sequence).encode(), digest_size=4).digest()) % 1000


def events(count: int, skus: int, first_sequence: int, seed: int) -> list[dict[str, Any]]:
    """Movements with rising sequences over `skus` SKUs; one in twenty re-delivers an earlier one."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for n in range(count):
        seq = first_sequence + (rng.randrange(max(1, n)) if n and rng.random() < 0.05 else n)
        out.append(
            {
                "id": f"evt_WH1_{seq:012d}",
                "type": "inventory.movement",
                "created_at": "2026-11-26T09:00:00Z",
                "data": {
                    "warehouse_id": "WH1",
                    "sequence": seq,
                    "occurred_at": "2026-11-26T09:00:00Z",
                    "movement_type": "adjustment",
                    "sku": sku_name(seq % skus),
                    "quantity": 1,
                    "balances": [{"status": "available", "quantity": quantity(seq)}],
                },
            }
        )
    return out


def expected_figures(sent: list[dict[str, Any]]) -> dict[str, int]:
    """Each SKU's available quantity after the last movement sent for it (the highest sequence)."""
    last: dict[str, tuple[int, int]] = {}
    for event in sent:
        data = event["data"]
        if data["sku"] not in last or data["sequence"] > last[data["sku"]][0]:
            last[data["sku"]] = (data["sequence"], data["balances"][0]["quantity"])
    return {sku: qty for sku, (_, qty) in last.items()}


def signed(port: int, batch: list[dict[str, Any]]) -> list[bytes]:
    signed_at = int(time.time())  # the hub refuses timestamps more than 5 minutes from its clock
    requests = []
    for event in batch:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Clarus-Event-Id": event["id"],
            "X-Clarus-Timestamp": str(signed_at),
            "X-Clarus-Signature": sign(SECRET.encode(), body, signed_at),
        }
        requests.append(build_request(HOST, port, PATH, body, headers))
    return requests


def burst(port: int, batch: list[dict[str, Any]], connections: int, seconds: float) -> LoadResult:
    result = drive(HOST, port, signed(port, batch), connections, seconds)
    if result.failed:
        raise RuntimeError(f"{result.failed} requests failed on port {port}")
    return result


def uvicorn(port: int, app: str) -> list[str]:
    app_dir = str(Path(__file__).resolve().parent)
    return [
        python(), "-m", "uvicorn", "--app-dir", app_dir, app, "--host", HOST, "--port", str(port),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def run_bare(
    batch: list[dict[str, Any]], warm: list[dict[str, Any]], connections: int
) -> tuple[float, float]:
    """Requests per second, and the server's CPU µs per request."""
    port = free_port()
    with process(uvicorn(port, "bare_app:app")) as server:
        wait_http(f"http://{HOST}:{port}{PATH}", method="POST")
        burst(port, warm, connections, 60)
        cpu = cpu_seconds(server.pid)
        result = burst(port, batch, connections, 600)
        return result.per_s, (cpu_seconds(server.pid) - cpu) / result.ok * 1e6


def sink_count(http: httpx.Client, url: str) -> int:
    return int(http.get(f"{url}/count").text)


def run_nodered(
    batch: list[dict[str, Any]], warm: list[dict[str, Any]], connections: int, seconds: float, workdir: Path
) -> dict[str, Any]:
    red_port, sink_port = free_port(), free_port()
    sink = f"http://{HOST}:{sink_port}"
    http = httpx.Client(timeout=30)
    with (
        process([python(), str(Path(__file__).resolve().parent / "sink.py"), "--port", str(sink_port)]),
        process(nodered.command(workdir / "node-red", red_port, PATH, f"{sink}/far")) as red,
    ):
        wait_http(f"{sink}/count")
        wait_http(f"http://{HOST}:{red_port}{PATH}", method="POST", timeout_s=60)
        burst(red_port, warm, connections, 60)
        before, cpu = sink_count(http, sink), cpu_seconds(red.pid)
        result = burst(red_port, batch, connections, seconds)
        cpu = cpu_seconds(red.pid) - cpu
        calls = sink_count(http, sink) - before
    return {"per_s": result.per_s, "events": result.ok, "calls": calls, "cpu_us": cpu / result.ok * 1e6}


def hub_config(clarus: str, ims: str, port: int, db_url: str) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "hub": {"host": HOST, "port": port},
        "connectors": {
            # The burst is signed once, before it is sent, and may take longer than the default
            # five-minute replay window to deliver on a loaded machine.
            # The start-up product sync writes every IMS item into the empty Clarus simulator, one
            # call each: at the default 50 calls/s that is 200 s for 10,000 SKUs before the burst.
            "clarus": {"base_url": clarus, "webhook_tolerance_s": 3600, "calls_per_second": 1000},
            "ims": {"base_url": ims, "calls_per_second": 10, "concurrency": 4, "max_lines_per_call": 100},
        },
        "locations": [{"warehouse": "WH1", "ims_location": LOCATION}],
        "inventory_statuses": {"available": {"counts_for": ["ims"]}},
        "schedules": {
            "full_sync_s": 86400,
            "events_poll_s": 86400,
            "item_refresh_s": 86400,
            "drift_check_s": 86400,
        },
        "engine": {"claim_batch": 1000, "fold_batch": 1000},
    }


def ims_stats(http: httpx.Client, ims: str) -> dict[str, Any]:
    stats: dict[str, Any] = http.get(f"{ims}/_control/stats").json()
    return stats


def mismatched(http: httpx.Client, ims: str, expected: dict[str, int]) -> int:
    items = http.get(f"{ims}/_control/state").json()["items"]
    return sum(1 for sku, qty in expected.items() if items[sku]["onHand"].get(LOCATION, 0) != qty)


def settle(http: httpx.Client, ims: str, hub: str, token: str, quiet_s: float = 1.5) -> None:
    """Until the hub's inbox is empty, the IMS has seen no call for `quiet_s` and the start-up product
    sync has finished: it writes every IMS item the warehouse lacks into Clarus, one call each (all of
    them here, the Clarus simulator starts empty), which is a merchant's first start, not the burst's
    cost, and took a tenth of the hub's CPU during a burst it overlapped."""
    deadline = time.monotonic() + 600
    last, since = ims_stats(http, ims)["calls"], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        calls = ims_stats(http, ims)["calls"]
        if calls != last:
            last, since = calls, time.monotonic()
            continue
        status = http.get(f"{hub}/admin/status", headers={"Authorization": f"Bearer {token}"}).json()
        if (
            time.monotonic() - since >= quiet_s
            and status["inbox_pending"] == 0
            and status["dirty_targets"] == 0
            and "product_sync" in status["jobs"]
        ):
            return
    raise TimeoutError("the hub did not settle")


def run_hub(
    batch: list[dict[str, Any]],
    warm: list[dict[str, Any]],
    skus: int,
    connections: int,
    workdir: Path,
    profile: Path | None = None,
) -> dict[str, Any]:
    clarus_port, ims_port, hub_port = free_port(), free_port(), free_port()
    clarus, ims, hub = (f"http://{HOST}:{p}" for p in (clarus_port, ims_port, hub_port))
    http = httpx.Client(timeout=60)
    clarus_cmd = clarus_command(clarus_port, CLARUS_KEY)
    ims_cmd = [
        python(), "-m", "stockbridge.simulators.ims", "--port", str(ims_port), "--bearer-token", IMS_TOKEN,
        "--calls-per-second", "10", "--max-lines-per-request", "100",
    ]  # fmt: skip
    env = {"CLARUS_API_KEY": CLARUS_KEY, "CLARUS_WEBHOOK_SECRET": SECRET, "IMS_TOKEN": IMS_TOKEN}
    with database("sqlite", workdir) as db_url, process(clarus_cmd), process(ims_cmd):
        wait_http(f"{clarus}/_control/state")
        wait_http(f"{ims}/_control/state")
        items = [{"itemId": sku_name(i)} for i in range(skus)]
        http.post(f"{ims}/_control/items", json={"items": items}).raise_for_status()
        config_path = workdir / "peer-hub.yaml"
        config_path.write_text(yaml.safe_dump(hub_config(clarus, ims, hub_port, db_url)))
        with process(
            [python(), "-m", "stockbridge.cli", "serve", "--config", str(config_path)], env
        ) as server:
            wait_http(f"{hub}/health", timeout_s=60)
            token = issue_token(db_url, "bench")
            burst(hub_port, warm, connections, 60)
            settle(http, ims, hub, token)
            before, cpu = ims_stats(http, ims), cpu_seconds(server.pid)
            with sampling(server.pid, profile):
                result = burst(hub_port, batch, connections, 600)
                sent_all = time.monotonic()
                expected = expected_figures(batch)
                while (left := mismatched(http, ims, expected)) and time.monotonic() - sent_all < 300:
                    time.sleep(0.1)
                if left:
                    raise TimeoutError(f"{left} SKUs never reached their figure in the IMS")
                converged = time.monotonic() - sent_all
                cpu = cpu_seconds(server.pid) - cpu  # every event stored, folded and pushed
            after = ims_stats(http, ims)
    routes = {
        route: n - before["calls_by_route"].get(route, 0)
        for route, n in after["calls_by_route"].items()
        if n - before["calls_by_route"].get(route, 0)
    }
    return {
        "per_s": result.per_s,
        "events": result.ok,
        "calls": after["calls"] - before["calls"],
        "calls_by_route": routes,
        "throttled_429": after["throttled_429"] - before["throttled_429"],
        "cpu_us": cpu / result.ok * 1e6,
        "converged_after_s": converged,
    }


@contextlib.contextmanager
def sampling(pid: int, out: Path | None) -> Iterator[None]:
    """With `out`, py-spy samples process `pid` (every thread, idle ones left out) meanwhile and
    writes its raw stacks there (`python bench/profile_ingest.py --summarise FILE` reads them)."""
    if out is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(python()).parent / "py-spy")
    command = [spy, "record", "--format", "raw", "--threads", "--nonblocking", "-r", "100"]
    with process([*command, "-p", str(pid), "-o", str(out)]) as sampler:
        time.sleep(0.5)
        try:
            yield
        finally:
            sampler.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
            sampler.wait(timeout=60)


def run_hub_only(
    events_n: int, skus: int, connections: int, workdir: Path, profile: Path | None
) -> dict[str, Any]:
    """The hub alone (no bare endpoint, no Node-RED): for profiling and comparing hub builds."""
    warm = events(WARM_UP, skus, first_sequence=0, seed=1)
    batch = events(events_n, skus, first_sequence=1_000_000, seed=2)
    hub = run_hub(batch, warm, skus, connections, workdir, profile)
    return {
        "events": events_n,
        "skus": skus,
        "hub_per_s": round(hub["per_s"], 1),
        "hub_cpu_us": round(hub["cpu_us"], 1),
        "hub_far_calls": hub["calls"],
        "hub_far_calls_per_event": round(hub["calls"] / hub["events"], 5),
        "hub_calls_by_route": hub["calls_by_route"],
        "hub_throttled_429": hub["throttled_429"],
        "hub_converged_after_s": round(hub["converged_after_s"], 2),
    }


def run(events_n: int, skus: int, connections: int, seconds: float, workdir: Path) -> dict[str, Any]:
    version = nodered.install()
    warm = events(WARM_UP, skus, first_sequence=0, seed=1)
    batch = events(events_n, skus, first_sequence=1_000_000, seed=2)
    bare_before, bare_cpu_before = run_bare(batch, warm, connections)
    red = run_nodered(batch, warm, connections, seconds, workdir)
    hub = run_hub(batch, warm, skus, connections, workdir)
    bare_after, bare_cpu_after = run_bare(batch, warm, connections)
    bare = (bare_before + bare_after) / 2
    bare_cpu = (bare_cpu_before + bare_cpu_after) / 2
    return {
        "events": events_n,
        "skus": skus,
        "connections": connections,
        "node_red_version": version,
        "bare_per_s": round(bare, 1),
        "bare_before_per_s": round(bare_before, 1),
        "bare_after_per_s": round(bare_after, 1),
        "bare_cpu_us": round(bare_cpu, 1),
        "hub_per_s": round(hub["per_s"], 1),
        "hub_ratio": round(hub["per_s"] / bare, 3),
        "hub_cpu_us": round(hub["cpu_us"], 1),
        "hub_cpu_ratio": round(bare_cpu / hub["cpu_us"], 3),
        "hub_far_calls": hub["calls"],
        "hub_far_calls_per_event": round(hub["calls"] / hub["events"], 5),
        "hub_calls_by_route": hub["calls_by_route"],
        "hub_throttled_429": hub["throttled_429"],
        "hub_converged_after_s": round(hub["converged_after_s"], 2),
        "node_red_per_s": round(red["per_s"], 1),
        "node_red_ratio": round(red["per_s"] / bare, 3),
        "node_red_cpu_us": round(red["cpu_us"], 1),
        "node_red_cpu_ratio": round(bare_cpu / red["cpu_us"], 3),
        "node_red_events": red["events"],
        "node_red_far_calls": red["calls"],
        "node_red_far_calls_per_event": round(red["calls"] / red["events"], 5) if red["events"] else None,
        "hub_over_node_red": round(hub["per_s"] / red["per_s"], 2) if red["per_s"] else None,
    }


def table(result: dict[str, Any]) -> Iterator[str]:
    yield (
        "| | events/s | ÷ bare endpoint | CPU µs/event | bare ÷ CPU | far calls | far calls ÷ events "
        "| durable |"
    )
    yield "|---|---|---|---|---|---|---|---|"
    bare_cpu = f"{result['bare_cpu_us']:.0f}"
    yield f"| bare endpoint | {result['bare_per_s']:,.0f} | 1 | {bare_cpu} | 1 | – | – | no |"
    yield (
        f"| hub (stockbridge serve, SQLite) | {result['hub_per_s']:,.0f} | {result['hub_ratio']:.3f} "
        f"| {result['hub_cpu_us']:.0f} | {result['hub_cpu_ratio']:.3f} "
        f"| {result['hub_far_calls']:,} | {result['hub_far_calls_per_event']:.5f} | yes |"
    )
    yield (
        f"| Node-RED {result['node_red_version']} forwarder | {result['node_red_per_s']:,.0f} "
        f"| {result['node_red_ratio']:.3f} | {result['node_red_cpu_us']:.0f} "
        f"| {result['node_red_cpu_ratio']:.3f} "
        f"| {result['node_red_far_calls']:,} | {result['node_red_far_calls_per_event']:.5f} | no |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="at most this long for the forwarder")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--record", action="store_true", help="write the result to bench/RESULTS.md")
    parser.add_argument("--hub-only", action="store_true", help="run the hub alone (no peers, no record)")
    parser.add_argument(
        "--profile", type=Path, help="with --hub-only: py-spy's raw stacks of the hub during the burst"
    )
    args = parser.parse_args()
    if args.hub_only:
        with tempfile.TemporaryDirectory(prefix="stockbridge-peer-") as tmp:
            only = run_hub_only(args.events, args.skus, args.connections, Path(tmp), args.profile)
        print(json.dumps(only) if args.json else json.dumps(only, indent=2))
        return
    with tempfile.TemporaryDirectory(prefix="stockbridge-peer-") as tmp:
        result = run(args.events, args.skus, args.connections, args.seconds, Path(tmp))
    print(
        f"hub {result['hub_per_s']:,.0f}/s ({result['hub_ratio']} of bare, "
        f"{result['hub_far_calls']} far calls), "
        f"Node-RED {result['node_red_per_s']:,.0f}/s ({result['node_red_ratio']} of bare, "
        f"{result['node_red_far_calls']} far calls), bare {result['bare_per_s']:,.0f}/s",
        file=sys.stderr,
    )
    if args.record:
        record(
            "Peer: hub against a naive forwarder (bench/peer.py)",
            f"{result['events']:,} signed movement webhooks over {result['skus']:,} SKUs (5% re-deliveries), "
            f"{result['connections']} keep-alive connections, the same load generator for all three. "
            f"Bare endpoint {result['bare_before_per_s']:,.0f}/s before and "
            f"{result['bare_after_per_s']:,.0f}/s "
            f"after the others (their mean is the baseline). The hub's far calls are every IMS call from "
            f"the burst's first event until the IMS held every SKU's last figure "
            f"({result['hub_converged_after_s']} s after the last event; by route "
            f"{result['hub_calls_by_route']}, {result['hub_throttled_429']} answered 429); Node-RED's are "
            f"the sink's count for the {result['node_red_events']:,} events it answered.\n"
            "CPU µs/event is each server's own CPU time (every thread) per event: for the hub from the "
            "burst's first event until the IMS matched (storing, folding and pushing); for Node-RED its "
            "node process (the sink and the IMS simulator are not counted). `bare ÷ CPU` is the speed "
            "ratio a machine with a core to spare for each server would show.\n"
            "Targets: hub events/s above Node-RED's; hub far calls ≤ 0.2% of events.\n\n"
            + "\n".join(table(result)),
        )
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
