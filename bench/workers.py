"""Many workers: the inventory burst on PostgreSQL with 1, 2 and 4 worker processes sharing one IMS
account's budget (docs/decisions/0037).

One `stockbridge serve --no-workers` takes the webhooks; N `stockbridge worker` processes fold and
push. The IMS simulator refuses past `--ims-cps` calls per second (429 with Retry-After) and takes
`--lines` lines per call, so the burst presses on the account's limit. Each worker is configured with
the account's whole rate, as the operating guide says: the budget in PostgreSQL makes it the rate of
all of them together. The control, side by side in the same run: 4 workers that pace themselves
alone (`engine.shared_budgets: false`), as every process did before.

Measured for each run, from the simulators' own records:

- events/s: movements ÷ seconds from the first emitted to the IMS matching the warehouse (the
  oracle's drift on the simulators' control views); figures/s: adjustment lines the IMS holds ÷ the same.
- 429s: refusals the IMS simulator counted (its own stats), and calls it took.
- doubles: adjustments the IMS replaced under an external id it already held (the same push sent
  twice: by two workers, or by one after a lost answer; there are no faults here), and lines after
  which the IMS's figure is not what the line set (the oracle's `adjustments_off_target`).

    python bench/workers.py [--channel ims|shopify] [--workers 1,2,4] [--full] [--skus N]
                            [--movements M] [--ims-cps C] [--lines L] [--no-control] [--json] [--record]

Default size 1,000 SKUs and 8,000 movements (500 and 5,000 with `--channel shopify`): a few minutes
for the four runs on 2 cores. `--full` is the issue's burst: 10,000 SKUs and 100,000 movements.
"""

from __future__ import annotations

import argparse
import contextlib
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
from common import clarus_command, database, process, python, record, wait_http
from inventory_burst import (
    CHUNK,
    CLARUS_KEY,
    HOST,
    SECRET,
    TOKEN,
    hub_config,
    hub_status,
    wait_quiet,
    wait_subscribed,
)
from stockbridge.config import parse_config
from stockbridge.demo import measure_drift
from stockbridge.demo.harness import issue_token
from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.oracle import adjustments_off_target
from stockbridge.oracle.read import suiteql
from stockbridge.servers import free_port

ADJUSTMENT_LINES = (
    'SELECT tl."transaction" AS txn, tl.id AS line, tl.item, tl.location, tl.quantity, tl.memo '
    'FROM transactionline tl JOIN "transaction" t ON t.id = tl."transaction" '
    "WHERE t.type = 'InvAdjst' ORDER BY tl.\"transaction\", tl.id"
)
MAX_BACKLOG = 500  # webhook deliveries queued in Clarus before the driver waits


def ims_stats(http: httpx.Client, ims: str) -> dict[str, Any]:
    stats: dict[str, Any] = http.get(f"{ims}/_control/stats").json()
    return stats


def run_once(
    workers: int,
    shared: bool,
    skus: int,
    movements: int,
    cps: float,
    lines: int,
    workdir: Path,
    shopify: bool = False,
) -> dict[str, Any]:
    started = time.monotonic()
    clarus_port, ims_port, hub_port, shop_port = free_port(), free_port(), free_port(), free_port()
    clarus, ims, hub, store = (f"http://{HOST}:{p}" for p in (clarus_port, ims_port, hub_port, shop_port))
    http = httpx.Client(timeout=120)
    clarus_cmd = clarus_command(clarus_port, CLARUS_KEY)
    # Concurrency is not what is measured: the account allows more calls in flight than 4 workers hold.
    ims_cmd = [
        python(), "-m", "stockbridge.simulators.ims", "--port", str(ims_port), "--bearer-token", TOKEN,
        "--calls-per-second", str(cps), "--max-lines-per-request", str(lines), "--concurrency-limit", "64",
    ]  # fmt: skip
    with (
        database("postgresql", workdir) as db_url,
        process(clarus_cmd),
        process(ims_cmd),
        process(shop.command(shop_port) if shopify else [python(), "-c", "pass"], shop.ENVIRON),
    ):
        wait_http(f"{clarus}/_control/state")
        wait_http(f"{ims}/_control/state")
        names = [sku_name(i) for i in range(skus)]
        http.post(f"{ims}/_control/items", json={"items": [{"itemId": s} for s in names]}).raise_for_status()
        data = hub_config(clarus, ims, hub_port, db_url, cps, lines)
        # A worker step that dies leaves its batch leased until the lease ends; a shorter lease than
        # the default minute bounds what that costs a run (timeouts below it). It is also what a
        # cycle's read, paced by a budget every worker spends, must fit in (decision 0037).
        data["engine"].update({"shared_budgets": shared, "claim_batch": 200, "lease_s": 15})
        for connector in ("clarus", "ims"):
            data["connectors"][connector]["timeout_s"] = 10
        env = {"CLARUS_API_KEY": CLARUS_KEY, "CLARUS_WEBHOOK_SECRET": SECRET, "IMS_TOKEN": TOKEN}
        if shopify:
            wait_http(f"{store}/_control/calls")
            shop.seed(http, store, names)
            shop.add_store(data, store)
            data["storefronts"]["shopify"]["timeout_s"] = 10
            env.update(shop.ENVIRON)
        config_path = workdir / f"workers-{workers}-{shared}.yaml"
        config_path.write_text(yaml.safe_dump(data))
        cli = [python(), "-m", "stockbridge.cli"]
        with contextlib.ExitStack() as stack:
            stack.enter_context(process([*cli, "serve", "--no-workers", "--config", str(config_path)], env))
            wait_http(f"{hub}/health", timeout_s=60)  # the API process has migrated the schema
            for i in range(workers):
                worker = [*cli, "worker", "--worker-id", f"worker-{i}", "--config", str(config_path)]
                stack.enter_context(process(worker, env))
            token = issue_token(db_url, "bench")
            wait_subscribed(http, clarus, f"{hub}/webhooks/clarus")
            wait_quiet(http, ims, hub, token)
            traffic = Traffic(skus, seed=42)
            stream = list(traffic.initial_receipts())[:movements]
            stream += [traffic.next() for _ in range(movements - len(stream))]
            before = ims_stats(http, ims)
            store_before = shop.calls(http, store) if shopify else {}
            began = time.monotonic()
            for start in range(0, len(stream), CHUNK):
                http.post(f"{clarus}/_control/movements", json={"movements": stream[start : start + CHUNK]})
                while True:
                    d = http.get(f"{clarus}/_control/deliveries").json()
                    if d["queued"] + d["in_flight"] < MAX_BACKLOG:
                        break
                    time.sleep(0.02)
            emitted = time.monotonic()
            config = parse_config(data)
            while measure_drift(clarus, ims, config)[0] != 0 or (
                shopify and shop.drifted(http, clarus, store, data) != 0
            ):
                if time.monotonic() - emitted > 900:
                    raise TimeoutError("the channels never matched the warehouse")
                time.sleep(0.1)
            matched = time.monotonic()
            after = ims_stats(http, ims)
            store_after = shop.calls(http, store) if shopify else {}
            health = hub_status(http, hub, token)
        # After the workers stopped: the oracle reads every adjustment line (governed calls of its own).
        adjustment_lines = suiteql(http, ims, TOKEN, ADJUSTMENT_LINES, every_page=True, patience_s=60)
    seconds = matched - began
    calls = after["calls"] - before["calls"]
    store_figures = {}
    if shopify:
        store_calls = store_after["calls"] - store_before["calls"]
        throttled = store_after["throttled"] - store_before["throttled"]
        store_figures = {
            "shopify_calls": store_calls,
            "shopify_throttled": throttled,
            "shopify_throttled_share": round(throttled / max(1, store_calls), 4),
            "shopify_double_pushes": store_after["idempotent_replays"],
        }
    return {
        "workers": workers,
        "shared_budget": shared,
        "skus": skus,
        "movements": movements,
        "emit_s": round(emitted - began, 2),
        "converge_s": round(seconds, 2),
        "events_per_s": round(movements / seconds, 1),
        "figures_pushed": len(adjustment_lines),
        "figures_per_s": round(len(adjustment_lines) / seconds, 1),
        "ims_calls": calls,
        "ims_calls_per_s": round(calls / seconds, 2),
        "ims_429": after["throttled_429"] - before["throttled_429"],
        "ims_429_share": round((after["throttled_429"] - before["throttled_429"]) / max(1, calls), 4),
        "double_pushes": after["adjustments_replaced"],
        "lines_off_target": len(adjustments_off_target(adjustment_lines)),
        **store_figures,
        "events_received": health["counters"].get("inbox.received"),
        "wall_s": round(time.monotonic() - started, 1),
    }


def table(results: list[dict[str, Any]], baseline: dict[str, Any]) -> str:
    shopify = "shopify_calls" in baseline
    head = (
        "| workers | shared budget | converge s | events/s | × 1 worker | figures/s | IMS calls/s "
        "| IMS 429s | 429 share | IMS re-sent (replaced) | lines applied twice |"
        + (" Shopify calls | THROTTLED | THROTTLED share | Shopify keys re-sent |" if shopify else "")
        + "\n|"
        + "---|" * (15 if shopify else 11)
        + "\n"
    )
    rows = []
    for r in results:
        row = (
            f"| {r['workers']} | {'yes' if r['shared_budget'] else 'no (control)'} | {r['converge_s']} "
            f"| {r['events_per_s']} | {r['events_per_s'] / baseline['events_per_s']:.2f} "
            f"| {r['figures_per_s']} | {r['ims_calls_per_s']} | {r['ims_429']} | {r['ims_429_share']:.2%} "
            f"| {r['double_pushes']} | {r['lines_off_target']} |"
        )
        if shopify:
            row += (
                f" {r['shopify_calls']} | {r['shopify_throttled']} | {r['shopify_throttled_share']:.2%} "
                f"| {r['shopify_double_pushes']} |"
            )
        rows.append(row)
    return head + "\n".join(rows)


def section(shopify: bool) -> str:
    channel = " --channel shopify" if shopify else ""
    return f"Many workers (bench/workers.py{channel}, postgresql)"


def summary(
    results: list[dict[str, Any]],
    baseline: dict[str, Any],
    skus: int,
    movements: int,
    args: argparse.Namespace,
    shopify: bool,
) -> str:
    most = max(r["workers"] for r in results)
    shared_most = next(r for r in results if r["shared_budget"] and r["workers"] == most)
    control = next((r for r in results if not r["shared_budget"]), None)
    refusals = "shopify_throttled" if shopify else "ims_429"
    what = "THROTTLED answers from the store" if shopify else "429s from the IMS"
    verdict = (
        f"{most} workers sharing the budget met {shared_most[refusals]} {what}, one worker "
        f"{baseline[refusals]}"
        + (f"; {most} workers pacing themselves alone met {control[refusals]}" if control else "")
        + ". Adjustments applied twice (lines after which the IMS's figure is not what the line set), "
        f"all runs: {sum(r['lines_off_target'] for r in results)}; adjustments sent again under an "
        f"external id the IMS held (replaced, so applied once: a batch re-sent after its lease ran out "
        f"or its answer was lost): {sum(r['double_pushes'] for r in results)}"
        + (
            f"; Shopify calls sent again under an idempotency key it held (answered, not applied): "
            f"{sum(r['shopify_double_pushes'] for r in results)}."
            if shopify
            else "."
        )
    )
    store = (
        f" The Shopify store (simulator) at the standard plan: a {shop.BUCKET_SIZE}-point bucket restored "
        f"at {shop.RESTORE_RATE:g} points/s, {shop.LINES} quantities a call; the hub reads each figure "
        "before it sets it. "
        if shopify
        else " "
    )
    return (
        f"{movements:,} movements over {skus:,} SKUs, PostgreSQL, one `serve --no-workers` and N "
        f"`worker` processes; the IMS simulator allows {args.ims_cps:g} calls/s (429 past it) and "
        f"{args.lines} lines per call, and every worker is configured with that whole rate.{store}"
        "Ratios are against the 1-worker run of the same benchmark run. "
        "Counts are the simulators' own.\n\n" + table(results, baseline) + "\n\n" + verdict
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--channel", default="ims", choices=["ims", "shopify"])
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument(
        "--full", action="store_true", help="the issue's burst: 10,000 SKUs, 100,000 movements"
    )
    parser.add_argument("--skus", type=int)
    parser.add_argument("--movements", type=int)
    parser.add_argument("--ims-cps", type=float, default=10.0)
    parser.add_argument("--lines", type=int, default=10, help="lines per IMS call (few: the limit binds)")
    parser.add_argument("--no-control", action="store_true", help="skip the 4 self-paced workers")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    shopify = args.channel == "shopify"
    skus = args.skus or (10_000 if args.full else 500 if shopify else 1_000)
    movements = args.movements or (100_000 if args.full else 5_000 if shopify else 8_000)
    counts = [int(n) for n in args.workers.split(",")]
    plan = [(n, True) for n in counts] + ([] if args.no_control else [(max(counts), False)])
    results = []
    with tempfile.TemporaryDirectory(prefix="stockbridge-workers-") as tmp:
        for n, shared in plan:
            result = run_once(n, shared, skus, movements, args.ims_cps, args.lines, Path(tmp), shopify)
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
    baseline = results[0]
    print(table(results, baseline), file=sys.stderr)
    if args.record:
        record(section(shopify), summary(results, baseline, skus, movements, args, shopify))
    print(json.dumps(results) if args.json else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
