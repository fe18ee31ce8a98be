"""Ingest: signed webhook events accepted per second by the hub against a bare Starlette endpoint.

Both servers run as their own uvicorn process and are driven by the same load generator, one after
the other, in the same run. The hub verifies each signature, validates the event, stores it durably
(group commit) de-duplicated by event id, and answers 2xx. `ratio` = hub ÷ bare.

    python bench/ingest.py [--seconds S] [--connections C] [--databases sqlite,postgresql] [--json] [--record]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from common import cpu_seconds, database, process, python, record, wait_http
from loadgen import build_request, drive
from stockbridge.connectors.clarus.signature import sign
from stockbridge.servers import free_port

SECRET = "bench-webhook-secret"
HOST = "127.0.0.1"


def signed_requests(port: int, count: int, seed: int) -> list[bytes]:
    """Distinct movement events, with one in twenty a re-delivery of an earlier one."""
    rng = random.Random(seed)
    signed_at = int(time.time())  # the hub refuses timestamps more than 5 minutes from its clock
    requests: list[bytes] = []
    for n in range(count):
        seq = rng.randrange(max(1, n)) if n and rng.random() < 0.05 else n
        event = {
            "id": f"evt_WH1_{seq:012d}",
            "type": "inventory.movement",
            "created_at": "2026-11-26T09:00:00Z",
            "data": {
                "warehouse_id": "WH1",
                "sequence": seq,
                "occurred_at": "2026-11-26T09:00:00Z",
                "movement_type": "pick",
                "sku": f"SKU-{seq % 5000:05d}",
                "quantity": 1,
                "balances": [{"status": "allocated", "quantity": 4}, {"status": "picked", "quantity": 1}],
            },
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Clarus-Event-Id": event["id"],
            "X-Clarus-Timestamp": str(signed_at),
            "X-Clarus-Signature": sign(SECRET.encode(), body, signed_at),
        }
        requests.append(build_request(HOST, port, "/webhooks/clarus", body, headers))
    return requests


def measure(
    port: int, pid: int, seconds: float, connections: int, count: int, seed: int
) -> tuple[float, float]:
    """Requests answered per second, and the server's CPU time (every thread) per request in µs."""
    drive(HOST, port, signed_requests(port, 2000, seed + 1), connections, 1.0)  # warm-up
    requests = signed_requests(port, count, seed)
    cpu_before = cpu_seconds(pid)
    result = drive(HOST, port, requests, connections, seconds)
    cpu = cpu_seconds(pid) - cpu_before
    if result.failed:
        raise RuntimeError(f"{result.failed} requests failed on port {port}")
    return result.per_s, cpu / result.ok * 1e6 if result.ok else 0.0


def bare(seconds: float, connections: int, count: int) -> tuple[float, float]:
    port = free_port()
    app_dir = str(Path(__file__).resolve().parent)
    args = [
        python(),
        "-m",
        "uvicorn",
        "--app-dir",
        app_dir,
        "bare_app:app",
        "--host",
        HOST,
        "--port",
        str(port),
    ]
    with process([*args, "--log-level", "warning", "--no-access-log"]) as server:
        wait_http(f"http://{HOST}:{port}/webhooks/clarus", method="POST")
        return measure(port, server.pid, seconds, connections, count, seed=1)


def ingest_only_config(db_url: str, port: int) -> dict[str, Any]:
    """A hub that only receives: its far systems are a closed port, so nothing leaves it."""
    return {
        "database_url": db_url,
        "hub": {"host": HOST, "port": port},
        "connectors": {
            "clarus": {"base_url": "http://127.0.0.1:9"},
            "ims": {"base_url": "http://127.0.0.1:9"},
        },
        "locations": [{"warehouse": "WH1", "ims_location": "6"}],
        "inventory_statuses": {"available": {"counts_for": ["ims"]}},
    }


def hub(db_url: str, workdir: Path, seconds: float, connections: int, count: int) -> tuple[float, float]:
    port = free_port()
    config = ingest_only_config(db_url, port)
    path = workdir / f"ingest-{port}.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        "CLARUS_API_KEY": "x",
        "CLARUS_WEBHOOK_SECRET": SECRET,
        "IMS_TOKEN": "x",
        "STOCKBRIDGE_DATABASE_URL": db_url,
    }
    args = [python(), "-m", "stockbridge.cli", "serve", "--config", str(path), "--no-workers"]
    with process(args, env) as server:
        wait_http(f"http://{HOST}:{port}/health", timeout_s=60)
        return measure(port, server.pid, seconds, connections, count, seed=2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--record", action="store_true", help="write the result to bench/RESULTS.md")
    args = parser.parse_args()
    count = int(args.seconds * 40_000)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="stockbridge-ingest-") as tmp:
        for kind in args.databases.split(","):
            baseline, baseline_cpu = bare(args.seconds, args.connections, count)
            with database(kind, Path(tmp)) as url:
                hub_rate, hub_cpu = hub(url, Path(tmp), args.seconds, args.connections, count)
            results[kind] = {
                "hub_per_s": round(hub_rate, 1),
                "baseline_per_s": round(baseline, 1),
                "ratio": round(hub_rate / baseline, 3),
                "hub_cpu_us": round(hub_cpu, 1),
                "baseline_cpu_us": round(baseline_cpu, 1),
                "cpu_ratio": round(baseline_cpu / hub_cpu, 3) if hub_cpu else 0.0,
            }
            print(f"{kind}: hub {hub_rate:,.0f}/s, bare endpoint {baseline:,.0f}/s", file=sys.stderr)
    if args.record:
        rows = "\n".join(
            f"| {k} | {v['hub_per_s']:,.0f} | {v['baseline_per_s']:,.0f} | {v['ratio']:.3f} "
            f"| {v['hub_cpu_us']:.0f} | {v['baseline_cpu_us']:.0f} | {v['cpu_ratio']:.3f} |"
            for k, v in results.items()
        )
        record(
            "Ingest (bench/ingest.py)",
            f"{args.seconds:g} s per server, {args.connections} keep-alive connections, 5% re-deliveries.\n"
            "CPU µs is each server's own CPU time (every thread) per request answered; `cpu ratio` = "
            "bare ÷ hub, the rate ratio a machine with a core to spare for each would show.\n"
            "Target: ratio ≥ 0.35 on SQLite.\n\n"
            "| database | hub events/s | bare endpoint req/s | ratio | hub CPU µs/event | bare CPU µs/req "
            f"| cpu ratio |\n|---|---|---|---|---|---|---|\n{rows}",
        )
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
