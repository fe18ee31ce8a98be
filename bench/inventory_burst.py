"""Inventory burst: a storm of warehouse movements, delivered at the hub's own ingest speed.

Warm-up (not measured): every SKU is received once and the channels converge, so the burst meets a
catalogue in sync. Then the Clarus simulator queues `--movements` movements over `--skus` SKUs with
its deliveries paused, and releases them at once, `SENDERS` at a time: the burst arrives as fast as
the hub's webhook endpoint takes it (`arrive_s`, `arrive_per_s`). `converge_s` is the time from the
last delivery acknowledged to the far end's last call once its figures match the oracle's (its own
call count, polled every 50 ms); `floor_s` is what the far API's own limits allow for one figure per
SKU: SKUs ÷ lines per call ÷ calls per second (the IMS: 10 calls/s × 100 lines). `from_release_s`
counts from the release instead (arrival included). A forwarder making one call per movement would
need `naive_calls` = the movement count.

`--channel shopify` adds a Shopify store (its simulator at the standard plan's limits) as a second
stock channel and reports its own figures (bench/shopify_channel.py), counted by the store itself:
its floor is SKUs ÷ 250 quantities ÷ 10 mutations/s.

    python bench/inventory_burst.py [--channel ims|shopify] [--skus N] [--movements M]
                                    [--database sqlite|postgresql] [--json] [--record] [--verbose]

Every process (three simulators, the hub) is a real process on loopback; the drift check reads the
simulators' own state.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import yaml

import shopify_channel as shop
from common import clarus_command, database, process, python, record, wait_http
from stockbridge.config import parse_config
from stockbridge.demo import measure_drift
from stockbridge.demo.harness import issue_token
from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.servers import free_port

HOST = "127.0.0.1"
CLARUS_KEY = "bench-clarus-key"
SECRET = "bench-webhook-secret"
TOKEN = "bench-ims-token"
CHUNK = 5000  # movements per POST to Clarus's control API
SENDERS = 32  # Clarus's concurrent webhook deliveries when the burst is released


def hub_config(clarus: str, ims: str, port: int, db_url: str, cps: float, lines: int) -> dict[str, Any]:
    return {
        "database_url": db_url,
        "hub": {"host": HOST, "port": port},
        "connectors": {
            # The start-up product sync writes every IMS item into the empty Clarus simulator, one
            # call each (a merchant's first start, not a burst's cost): at the default 50 calls/s
            # that is 200 s for 10,000 SKUs, overlapping the burst; here it ends in seconds.
            "clarus": {"base_url": clarus, "calls_per_second": 1000},
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


def wait_subscribed(http: httpx.Client, clarus: str, url: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        listed = http.get(f"{clarus}/api/v1/webhooks", headers={"Authorization": f"Bearer {CLARUS_KEY}"})
        if any(s["url"] == url for s in listed.json()["data"]):
            return
        time.sleep(0.1)
    raise TimeoutError("the hub did not subscribe to Clarus's webhooks")


def wait_quiet(
    http: httpx.Client, ims: str, hub: str, token: str, quiet_s: float = 1.5, timeout_s: float = 300
) -> None:
    """Until the hub is idle, the IMS has seen no call for `quiet_s` and the start-up jobs are done
    (the product sync has run once: it calls Clarus, not the IMS, so the IMS's quiet does not say)."""
    deadline = time.monotonic() + timeout_s
    last, since = ims_calls(http, ims), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now_calls = ims_calls(http, ims)
        if now_calls != last:
            last, since = now_calls, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            status = hub_status(http, hub, token)
            if status["inbox_pending"] == 0 and "product_sync" in status["jobs"]:
                return
    raise TimeoutError("the hub did not settle")


class LastCall:
    """Polls a far end's own call count in the background: when it last changed is when the hub last
    wrote there (the moment the figures converged, once they match), to within `every_s`."""

    def __init__(self, count: Callable[[], int], every_s: float = 0.05) -> None:
        self._count, self._every = count, every_s
        self.calls, self.at = count(), time.time()
        self.first_at: float | None = None  # its first call after the start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            calls = self._count()
            if calls != self.calls:
                self.calls, self.at = calls, time.time()
                self.first_at = self.first_at or self.at

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def deliveries(http: httpx.Client, clarus: str) -> dict[str, Any]:
    answer: dict[str, Any] = http.get(f"{clarus}/_control/deliveries").json()
    return answer


def emit(http: httpx.Client, clarus: str, movements: list[dict[str, Any]]) -> None:
    for start in range(0, len(movements), CHUNK):
        response = http.post(
            f"{clarus}/_control/movements", json={"movements": movements[start : start + CHUNK]}
        )
        response.raise_for_status()


def wait_delivered(http: httpx.Client, clarus: str, every_s: float = 0.02) -> float:
    """Until Clarus has nothing queued or in flight; the wall time it saw so."""
    while True:
        d = deliveries(http, clarus)
        if d["queued"] + d["in_flight"] == 0:
            return time.time()
        time.sleep(every_s)


def counted(health: dict[str, Any], before: dict[str, int], counter: str) -> int:
    """How much the hub's counter grew during the burst."""
    return int(health["counters"].get(counter, 0)) - int(before.get(counter, 0))


def full_sync(http: httpx.Client, hub: str, token: str) -> None:
    """Ask the hub to read Clarus's stock snapshot now (its scheduler takes it within a second)."""
    job = http.post(f"{hub}/admin/jobs/full_sync", headers={"Authorization": f"Bearer {token}"})
    job.raise_for_status()


def wait_matched(
    http: httpx.Client,
    clarus: str,
    ims: str,
    store: str | None,
    data: dict[str, Any],
    verbose: bool,
    status: Callable[[], str],
) -> None:
    """Until the IMS (and the store) show the oracle's figures for every SKU."""
    config = parse_config(data)
    began = time.monotonic()
    ims_done = store_done = False
    while not (ims_done and (store_done or store is None)):
        ims_done = ims_done or measure_drift(clarus, ims, config)[0] == 0
        if store is not None:
            store_done = store_done or shop.drifted(http, clarus, store, data) == 0
        if verbose:
            print(f"+{time.monotonic() - began:5.1f}s {status()}", file=sys.stderr)
        if time.monotonic() - began > 900:
            raise TimeoutError("the channels never matched the warehouse")
        time.sleep(0.1)


def run(
    skus: int,
    movements: int,
    db_kind: str,
    cps: float,
    lines: int,
    workdir: Path,
    verbose: bool = False,
    shopify: bool = False,
    snapshot: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    clarus_port, ims_port, hub_port, shop_port = free_port(), free_port(), free_port(), free_port()
    clarus, ims, hub, store = (f"http://{HOST}:{p}" for p in (clarus_port, ims_port, hub_port, shop_port))
    http = httpx.Client(timeout=120)
    clarus_cmd = clarus_command(clarus_port, CLARUS_KEY, "--concurrency", str(SENDERS))
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

            def status() -> str:
                h, d = hub_status(http, hub, token), deliveries(http, clarus)
                return (
                    f"deliveries queued {d['queued'] + d['in_flight']}, inbox {h['inbox_pending']}, "
                    f"dirty {h['dirty_targets']}, batches {h['batches']}"
                )

            # Warm-up (not measured): every SKU received once and pushed once, so the burst meets a
            # catalogue in sync, as a peak-hour wave or a stock count does. The store is opened wide
            # meanwhile: its first push of a SKU reads it (4 points a SKU), 400 s at the standard plan.
            traffic = Traffic(skus, seed=42)
            warm_up = list(traffic.initial_receipts())
            if shopify:
                shop.open_wide(http, store)
            if snapshot:  # the warm-up as a snapshot too: its webhooks stay held with the burst's
                http.put(f"{clarus}/_control/deliveries", json={"paused": True}).raise_for_status()
            emit(http, clarus, warm_up)
            if snapshot:
                full_sync(http, hub, token)
            else:
                wait_delivered(http, clarus)
            wait_matched(http, clarus, ims, store if shopify else None, data, verbose, status)
            if shopify:
                shop.standard_plan(http, store)
            wait_quiet(http, ims, hub, token)

            # The burst: queued in Clarus first, then released at once, SENDERS deliveries at a time.
            burst = [traffic.next() for _ in range(movements)]
            http.put(f"{clarus}/_control/deliveries", json={"paused": True}).raise_for_status()
            emit(http, clarus, burst)
            calls_before = ims_calls(http, ims)
            store_before = shop.calls(http, store) if shopify else {}
            counted_before = hub_status(http, hub, token)["counters"]
            ims_last = LastCall(lambda: ims_calls(http, ims))
            store_last = LastCall(lambda: int(shop.calls(http, store)["calls"])) if shopify else None
            released = time.time()
            if snapshot:
                # The hub reads Clarus's stock snapshot (its full sync) instead; the queued webhooks
                # stay held until the end.
                full_sync(http, hub, token)
                arrived = released
            else:
                http.put(f"{clarus}/_control/deliveries", json={"paused": False}).raise_for_status()
                arrived = wait_delivered(http, clarus)
            delivery = deliveries(http, clarus)
            wait_matched(http, clarus, ims, store if shopify else None, data, verbose, status)
            ims_last.stop()
            if store_last is not None:
                store_last.stop()
            calls = ims_calls(http, ims) - calls_before
            health = hub_status(http, hub, token)
            stats = http.get(f"{ims}/_control/stats").json()
            store_after = shop.calls(http, store) if shopify else {}
    floor = skus / lines / cps
    converge = max(ims_last.at, arrived) - arrived
    store_figures = {}
    if store_last is not None:
        store_figures = shop.figures(
            skus, store_before, store_after, movements, max(store_last.at, arrived) - arrived,
            store_last.at - released, (store_last.first_at or released) - released,
        )  # fmt: skip
    return {
        "database": db_kind,
        "delivered_as": "snapshot" if snapshot else "webhooks",
        "skus": skus,
        "movements": movements,
        "arrive_s": round(arrived - released, 2),
        "arrive_per_s": None if snapshot else round(movements / (arrived - released)),
        "converge_s": round(converge, 2),
        "floor_s": round(floor, 2),
        "converge_ratio": round(converge / floor, 3),
        "from_release_s": round(ims_last.at - released, 2),
        "first_call_s": round((ims_last.first_at or released) - released, 2),
        "calls": calls,
        "naive_calls": movements,
        "calls_ratio": round(calls / movements, 5),
        "throttled_429": stats.get("throttled_429"),
        "delivery_retries": delivery["failed_attempts"],
        "events_received": counted(health, counted_before, "inbox.received"),
        "snapshot_rows": counted(health, counted_before, "sync.snapshot_rows"),
        "duplicates_ignored": health["counters"].get("inbox.duplicates", 0),
        **store_figures,
        "wall_s": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel", default="ims", choices=["ims", "shopify"])
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument(
        "--deliver",
        default="webhooks",
        choices=["webhooks", "snapshot"],
        help="the burst as Clarus's webhooks released at once, or as its stock snapshot (a full sync)",
    )
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--ims-cps", type=float, default=10.0)
    parser.add_argument("--lines", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--note", default="", help="a sentence added to the recorded section")
    parser.add_argument("--verbose", action="store_true", help="print the pipeline's backlog while it drains")
    args = parser.parse_args()
    shopify = args.channel == "shopify"
    skus, movements = args.skus, args.movements
    with tempfile.TemporaryDirectory(prefix="stockbridge-burst-") as tmp:
        result = run(
            skus, movements, args.database, args.ims_cps, args.lines, Path(tmp), args.verbose, shopify,
            args.deliver == "snapshot",
        )  # fmt: skip
    print(
        f"IMS: converged {result['converge_s']}s after the last delivery vs floor {result['floor_s']}s "
        f"(ratio {result['converge_ratio']}), {result['calls']} calls vs {result['naive_calls']} naive; "
        f"the burst arrived in {result['arrive_s']}s ({result['arrive_per_s']}/s)",
        file=sys.stderr,
    )
    if shopify:
        print(
            f"Shopify: converged {result['shopify_converge_s']}s vs floor {result['shopify_floor_s']}s "
            f"(ratio {result['shopify_converge_ratio']}), {result['shopify_calls']} calls "
            f"({result['shopify_read_calls']} reads) for {movements} movements",
            file=sys.stderr,
        )
    if args.record:
        flags = (" --channel shopify" if shopify else "") + (
            " --deliver snapshot" if args.deliver == "snapshot" else ""
        )
        title = "Inventory burst with Shopify" if shopify else "Inventory burst"
        section = f"{title} (bench/inventory_burst.py{flags}, {result['database']})"
        limits = f"IMS allows {args.ims_cps:g} calls/s and {args.lines} lines per call. "
        if shopify:
            limits += shop.LIMITS_TEXT
        how = (
            "applied in Clarus and read by the hub as its stock snapshot (a full sync)"
            if args.deliver == "snapshot"
            else f"queued in Clarus and released at once ({SENDERS} concurrent deliveries)"
        )
        record(
            section,
            f"{result['movements']:,} movements over {result['skus']:,} SKUs, {how}, after a warm-up "
            f"that pushed every SKU once; {limits}"
            "Targets: converge_ratio ≤ 1.2 (IMS and Shopify), calls ≤ 1% of naive_calls."
            f"{' ' + args.note if args.note else ''}\n\n"
            "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in result.items()),
        )
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
