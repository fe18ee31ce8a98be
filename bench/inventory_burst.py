"""Inventory burst: a storm of warehouse movements against an IMS that allows 10 calls/s.

The Clarus simulator emits `--movements` movements over `--skus` SKUs as fast as its webhook
pipeline carries them; the IMS simulator allows `--ims-cps` calls per second and `--lines` lines per
call. The floor is what the IMS's own limits allow for one figure per SKU: SKUs ÷ lines ÷ calls/s.
A forwarder making one call per movement would need `naive_calls` = the movement count.

`--channel shopify` adds a Shopify store (its simulator at the standard plan's limits) as a second
stock channel and reports its own tail, floor and calls (bench/shopify_channel.py), counted by the
store itself. Its default size is smaller (2,000 SKUs, 20,000 movements): the store reads every
figure before setting it, at 4 points a SKU out of 100 a second, so 10,000 SKUs take minutes.

    python bench/inventory_burst.py [--channel ims|shopify] [--skus N] [--movements M]
                                    [--database sqlite|postgresql] [--json] [--record] [--verbose]

Every process (two simulators, the hub) is a real process on loopback; the drift check reads both
simulators' own state.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import yaml

import shopify_channel as shop
from common import database, process, python, record, wait_http
from stockbridge.config import parse_config
from stockbridge.demo import measure_drift
from stockbridge.demo.harness import issue_token
from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.servers import free_port

HOST = "127.0.0.1"
CLARUS_KEY = "bench-clarus-key"
SECRET = "bench-webhook-secret"
TOKEN = "bench-ims-token"
CHUNK = 1000
MAX_BACKLOG = 500  # webhook deliveries queued in Clarus before the driver waits


def hub_config(clarus: str, ims: str, port: int, db_url: str, cps: float, lines: int) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "hub": {"host": HOST, "port": port},
        "connectors": {
            "clarus": {"base_url": clarus},
            "ims": {"base_url": ims, "calls_per_second": cps, "concurrency": 4, "max_lines_per_call": lines},
        },
        "locations": [{"warehouse": "WH1", "ims_location": "6"}],
        "inventory_statuses": {
            "available": {"counts_for": ["ims"]},
            "allocated": {"counts_for": ["ims"]},
            "picked": {"counts_for": ["ims"]},
            "quarantine": {},
            "damaged": {},
            "in_transfer": {},
        },
        "schedules": {
            "full_sync_s": 86400,
            "events_poll_s": 86400,
            "item_refresh_s": 86400,
            "drift_check_s": 86400,
        },
        "engine": {"claim_batch": 1000, "fold_batch": 1000},
    }


def ims_calls(http: httpx.Client, ims: str) -> int:
    return int(http.get(f"{ims}/_control/stats").json()["calls"])


def hub_status(http: httpx.Client, hub: str, token: str) -> dict[str, Any]:
    response = http.get(f"{hub}/admin/status", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


def wait_subscribed(http: httpx.Client, clarus: str, url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = http.get(f"{clarus}/api/v1/webhooks", headers={"Authorization": f"Bearer {CLARUS_KEY}"})
        if any(s["url"] == url for s in listed.json()["data"]):
            return
        time.sleep(0.1)
    raise TimeoutError("the hub did not subscribe to Clarus's webhooks")


def wait_quiet(
    http: httpx.Client, ims: str, hub: str, token: str, quiet_s: float = 1.5, timeout_s: float = 120
) -> None:
    """Until the hub is idle and the IMS has seen no call for `quiet_s` (start-up jobs done)."""
    deadline = time.monotonic() + timeout_s
    last, since = ims_calls(http, ims), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now_calls = ims_calls(http, ims)
        if now_calls != last:
            last, since = now_calls, time.monotonic()
        elif time.monotonic() - since >= quiet_s and hub_status(http, hub, token)["inbox_pending"] == 0:
            return
    raise TimeoutError("the hub did not settle")


def run(
    skus: int,
    movements: int,
    db_kind: str,
    cps: float,
    lines: int,
    workdir: Path,
    verbose: bool = False,
    shopify: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    clarus_port, ims_port, hub_port, shop_port = free_port(), free_port(), free_port(), free_port()
    clarus, ims, hub, store = (f"http://{HOST}:{p}" for p in (clarus_port, ims_port, hub_port, shop_port))
    http = httpx.Client(timeout=120)
    clarus_cmd = [
        python(),
        "-m",
        "stockbridge.simulators.clarus",
        "--port",
        str(clarus_port),
        "--api-key",
        CLARUS_KEY,
    ]
    ims_cmd = [
        python(), "-m", "stockbridge.simulators.ims", "--port", str(ims_port), "--bearer-token", TOKEN,
        "--calls-per-second", str(cps), "--max-lines-per-request", str(lines),
    ]  # fmt: skip
    store_cmd = shop.command(shop_port) if shopify else [python(), "-c", "pass"]
    with (
        database(db_kind, workdir) as db_url,
        process(clarus_cmd),
        process(ims_cmd),
        process(store_cmd, shop.ENVIRON),
    ):
        wait_http(f"{clarus}/_control/state")
        wait_http(f"{ims}/_control/state")
        names = [sku_name(i) for i in range(skus)]
        http.post(f"{ims}/_control/items", json={"items": [{"itemId": s} for s in names]}).raise_for_status()
        data = hub_config(clarus, ims, hub_port, db_url, cps, lines)
        env = {"CLARUS_API_KEY": CLARUS_KEY, "CLARUS_WEBHOOK_SECRET": SECRET, "IMS_TOKEN": TOKEN}
        if shopify:
            wait_http(f"{store}/_control/calls")
            shop.seed(http, store, names)
            shop.add_store(data, store)
            env.update(shop.ENVIRON)
        config_path = workdir / "burst.yaml"
        config_path.write_text(yaml.safe_dump(data))
        with process([python(), "-m", "stockbridge.cli", "serve", "--config", str(config_path)], env):
            wait_http(f"{hub}/health", timeout_s=60)
            token = issue_token(db_url, "bench")
            # The hub subscribes itself to Clarus at start-up (a second subscription made here would
            # be replaced by it, and Clarus drops what it had queued for the one it deletes).
            wait_subscribed(http, clarus, f"{hub}/webhooks/clarus")
            wait_quiet(http, ims, hub, token)
            traffic = Traffic(skus, seed=42)
            stream = list(traffic.initial_receipts())[:movements]
            stream += [traffic.next() for _ in range(movements - len(stream))]
            calls_before = ims_calls(http, ims)
            store_before = shop.calls(http, store) if shopify else {}
            burst_began = time.monotonic()
            for start in range(0, len(stream), CHUNK):
                http.post(f"{clarus}/_control/movements", json={"movements": stream[start : start + CHUNK]})
                while True:
                    d = http.get(f"{clarus}/_control/deliveries").json()
                    if d["queued"] + d["in_flight"] < MAX_BACKLOG:
                        break
                    time.sleep(0.02)
            last_emitted = time.monotonic()
            config = parse_config(data)
            store_matched: float | None = None
            ims_matched: float | None = None
            while True:
                if shopify and store_matched is None and shop.drifted(http, clarus, store, data) == 0:
                    store_matched = time.monotonic()
                if ims_matched is None and measure_drift(clarus, ims, config)[0] == 0:
                    ims_matched = time.monotonic()
                if ims_matched is not None and (store_matched is not None or not shopify):
                    break
                if verbose:
                    h = hub_status(http, hub, token)
                    d = http.get(f"{clarus}/_control/deliveries").json()
                    backlog = d["queued"] + d["in_flight"]
                    print(
                        f"+{time.monotonic() - last_emitted:5.1f}s deliveries queued {backlog}, "
                        f"inbox {h['inbox_pending']}, dirty {h['dirty_targets']}, batches {h['batches']}",
                        file=sys.stderr,
                    )
                if time.monotonic() - last_emitted > 900:
                    raise TimeoutError("the channels never matched the warehouse")
                time.sleep(0.1)
            matched = ims_matched
            calls = ims_calls(http, ims) - calls_before
            health = hub_status(http, hub, token)
            stats = http.get(f"{ims}/_control/stats").json()
            store_after = shop.calls(http, store) if shopify else {}
    floor = skus / lines / cps
    tail = matched - last_emitted
    store_figures = {}
    if store_matched is not None:
        store_tail = store_matched - last_emitted
        store_figures = shop.figures(skus, store_before, store_after, movements, store_tail)
    return {
        "database": db_kind,
        "skus": skus,
        "movements": movements,
        "emit_s": round(last_emitted - burst_began, 2),
        "tail_s": round(tail, 2),
        "floor_s": round(floor, 2),
        "tail_ratio": round(tail / floor, 3),
        "calls": calls,
        "naive_calls": movements,
        "calls_ratio": round(calls / movements, 5),
        "throttled_429": stats.get("throttled_429"),
        "events_received": health["counters"].get("inbox.received"),
        "duplicates_ignored": health["counters"].get("inbox.duplicates", 0),
        **store_figures,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel", default="ims", choices=["ims", "shopify"])
    parser.add_argument("--skus", type=int, help="default 10,000 (ims) or 2,000 (shopify)")
    parser.add_argument("--movements", type=int, help="default 100,000 (ims) or 20,000 (shopify)")
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--ims-cps", type=float, default=10.0)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the pipeline's backlog while it drains")
    args = parser.parse_args()
    shopify = args.channel == "shopify"
    skus = args.skus or (2_000 if shopify else 10_000)
    movements = args.movements or (20_000 if shopify else 100_000)
    with tempfile.TemporaryDirectory(prefix="stockbridge-burst-") as tmp:
        result = run(
            skus, movements, args.database, args.ims_cps, args.lines, Path(tmp), args.verbose, shopify
        )
    print(
        f"tail {result['tail_s']}s vs floor {result['floor_s']}s (ratio {result['tail_ratio']}), "
        f"{result['calls']} IMS calls vs {result['naive_calls']} naive",
        file=sys.stderr,
    )
    if shopify:
        print(
            f"Shopify: tail {result['shopify_tail_s']}s vs floor {result['shopify_floor_s']}s "
            f"(ratio {result['shopify_tail_ratio']}; {result['shopify_tail_ratio_with_reads']} counting "
            f"the reads), {result['shopify_calls']} calls for {movements} movements",
            file=sys.stderr,
        )
    if args.record:
        section = f"Inventory burst (bench/inventory_burst.py, {result['database']})"
        limits = f"IMS allows {args.ims_cps:g} calls/s and {args.lines} lines per call. "
        if shopify:
            section = (
                f"Inventory burst with Shopify (bench/inventory_burst.py --channel shopify, "
                f"{result['database']})"
            )
            limits += shop.LIMITS_TEXT
        record(
            section,
            f"{result['movements']:,} movements over {result['skus']:,} SKUs; {limits}"
            "Targets: tail_ratio ≤ 1.5, calls ≤ 1% of naive_calls.\n\n"
            "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in result.items()),
        )
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
