"""A million SKUs: a full sync of the warehouse's stock snapshot, with the hub's peak memory.

The Clarus simulator holds `--skus` SKUs of opening stock (seeded in bulk, no events); the IMS
simulator knows every SKU as an item. The hub starts, reads the IMS item list (a SuiteQL page at a
time), takes Clarus's paged snapshot into its inbox (`full_sync`), folds it into observed stock and
IMS targets a bounded batch at a time, and pushes every figure to the IMS. Measured side by side:

- `floor_s`: a bare client paging through the same snapshot (1,000 rows a page), decoding each
  page and keeping nothing: the far API's floor for reading it. `sync_ratio` = the hub's time from
  its first snapshot call to the last row folded into a target, ÷ `floor_s`.
- `sync_s_per_100k`: that time per 100,000 rows; `push_s`: until no target is dirty, against the
  IMS's floor for one figure per SKU (SKUs ÷ lines per call ÷ calls per second).
- `hub_peak_rss_mb`: the hub process's VmHWM (peak resident set) from /proc, read before it stops,
  after the pushes; `hub_peak_rss_at_sync_end_mb` the same read when the last row was folded (the
  full sync alone), `hub_rss_at_end_mb` its resident set (VmRSS) at the end. Target: under 500 MB
  at a million SKUs.

Correctness from the bench's own seeded figures (an oracle that imports none of the hub's rules):
every SKU has one IMS target, the targets' figures sum to the units seeded, none is left dirty.

    python bench/million.py [--skus N] [--database sqlite|postgresql] [--json] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import yaml
from sqlalchemy import create_engine, text

from common import clarus_command, database, process, python, record, wait_http
from inventory_burst import hub_config as burst_hub_config
from stockbridge.demo.harness import issue_token
from stockbridge.servers import free_port

HOST = "127.0.0.1"
CLARUS_KEY = "bench-clarus-key"
SECRET = "bench-webhook-secret"
TOKEN = "bench-ims-token"
WAREHOUSE = "WH1"
SEED_CHUNK = 50_000
ITEM_CHUNK = 20_000
PAGE = 1000
STOCK_ROUTE = "/api/v1/stock"


def sku(i: int) -> str:
    return f"M{i:07d}"


def quantity(i: int) -> int:
    return (i * 7919) % 500 + 1


def hub_config(clarus: str, ims: str, port: int, db_url: str, cps: float, lines: int) -> dict[str, Any]:
    """The burst benchmark's hub, reading Clarus's snapshot a page of PAGE rows at a time."""
    data = burst_hub_config(clarus, ims, port, db_url, cps, lines)
    # Clarus at its default pace: here the product sync's million puts would otherwise share the
    # hub's CPU with the sync being measured (the burst benchmark hurries them to clear its way).
    del data["connectors"]["clarus"]["calls_per_second"]
    data["connectors"]["clarus"]["snapshot_page_size"] = PAGE
    return data


def vm_mb(pid: int, field: str = "VmHWM") -> float:
    """A process's memory figure from /proc in MB: VmHWM (its peak resident set) or VmRSS (now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} for process {pid}")


def vm_hwm_mb(pid: int) -> float:
    return vm_mb(pid, "VmHWM")


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) the process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seed(http: httpx.Client, clarus: str, ims: str, skus: int) -> None:
    for start in range(0, skus, SEED_CHUNK):
        rows = [
            {"sku": sku(i), "status": "available", "quantity": quantity(i)}
            for i in range(start, min(skus, start + SEED_CHUNK))
        ]
        body = {"warehouse_id": WAREHOUSE, "rows": rows}
        http.post(f"{clarus}/_control/stock", json=body).raise_for_status()
    for start in range(0, skus, ITEM_CHUNK):
        items = [{"itemId": sku(i)} for i in range(start, min(skus, start + ITEM_CHUNK))]
        http.post(f"{ims}/_control/items", json={"items": items}).raise_for_status()


def bare_paging(clarus: str) -> tuple[float, int]:
    """Seconds to page through the whole snapshot with a bare client, and the rows read."""
    headers = {"Authorization": f"Bearer {CLARUS_KEY}"}
    rows, cursor = 0, None
    began = time.monotonic()
    with httpx.Client(timeout=60, headers=headers) as client:
        while True:
            params: dict[str, Any] = {"warehouse_id": WAREHOUSE, "limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            body = client.get(f"{clarus}{STOCK_ROUTE}", params=params).json()
            rows += len(body["data"])
            cursor = body["next_cursor"]
            if not cursor:
                return time.monotonic() - began, rows


def stock_calls(http: httpx.Client, clarus: str) -> int:
    by_route = http.get(f"{clarus}/_control/stats").json()["calls_by_route"]
    return int(sum(n for route, n in by_route.items() if route.endswith(STOCK_ROUTE)))


def hub_status(http: httpx.Client, hub: str, token: str) -> dict[str, Any]:
    response = http.get(f"{hub}/admin/status", headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    status: dict[str, Any] = response.json()
    return status


def check(db_url: str, skus: int) -> dict[str, Any]:
    """The hub's targets against the units seeded (the bench's own figures)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            row = c.execute(
                text(
                    "SELECT count(*), coalesce(sum(desired), 0), "
                    "coalesce(sum(CASE WHEN dirty THEN 1 ELSE 0 END), 0), "
                    "coalesce(sum(CASE WHEN pushed = desired THEN 1 ELSE 0 END), 0) "
                    "FROM targets WHERE channel = 'ims'"
                )
            ).one()
    finally:
        engine.dispose()
    seeded = sum(quantity(i) for i in range(skus))
    return {
        "targets": int(row[0]),
        "units_seeded": seeded,
        "units_in_targets": int(row[1]),
        "dirty_left": int(row[2]),
        "pushed_as_desired": int(row[3]),
        # The full sync's own result; the pushes may be cut short (--push-wait): all_pushed says.
        "correct": int(row[0]) == skus and int(row[1]) == seeded,
        "all_pushed": int(row[2]) == 0 and int(row[3]) == skus,
    }


def run(
    skus: int, db_kind: str, cps: float, lines: int, workdir: Path, verbose: bool, push_wait: float | None
) -> dict[str, Any]:
    started = time.monotonic()
    clarus_port, ims_port, hub_port = free_port(), free_port(), free_port()
    clarus, ims, hub = (f"http://{HOST}:{p}" for p in (clarus_port, ims_port, hub_port))
    http = httpx.Client(timeout=300)
    clarus_cmd = clarus_command(clarus_port, CLARUS_KEY)
    ims_cmd = [
        python(), "-m", "stockbridge.simulators.ims", "--port", str(ims_port), "--bearer-token", TOKEN,
        "--calls-per-second", str(cps), "--max-lines-per-request", str(lines),
    ]  # fmt: skip
    with database(db_kind, workdir) as db_url, process(clarus_cmd) as clarus_proc, process(ims_cmd):
        wait_http(f"{clarus}/_control/state")
        wait_http(f"{ims}/_control/state")
        seed_began = time.monotonic()
        seed(http, clarus, ims, skus)
        seed_s = time.monotonic() - seed_began
        floor_s, floor_rows = bare_paging(clarus)
        if floor_rows != skus:
            raise RuntimeError(f"the snapshot holds {floor_rows} rows, not {skus}")
        calls_before = stock_calls(http, clarus)
        data = hub_config(clarus, ims, hub_port, db_url, cps, lines)
        config_path = workdir / "million.yaml"
        config_path.write_text(yaml.safe_dump(data))
        env = {"CLARUS_API_KEY": CLARUS_KEY, "CLARUS_WEBHOOK_SECRET": SECRET, "IMS_TOKEN": TOKEN}
        token = issue_token(db_url, "bench")
        hub_cmd = [python(), "-m", "stockbridge.cli", "serve", "--config", str(config_path)]
        with process(hub_cmd, env) as hub_proc:
            hub_began = time.monotonic()
            wait_http(f"{hub}/health", timeout_s=60)
            # The hub reads the IMS item list, then takes the snapshot (its start-up runs of both).
            sync_began = stored = folded = pushed = None
            cpu_at_sync = cpu_at_fold = 0.0
            rss_at_sync_end = None
            dirty_left = dirty_at_sync_end = skus
            while pushed is None:
                now = time.monotonic()
                if sync_began is None:
                    if stock_calls(http, clarus) > calls_before:
                        sync_began, cpu_at_sync = now, cpu_s(hub_proc.pid)
                else:
                    status = hub_status(http, hub, token)
                    if stored is None and "sync.snapshot_rows" in status["counters"]:
                        stored = now
                    dirty_left = int(status["dirty_targets"])
                    if stored is not None and folded is None and status["inbox_pending"] == 0:
                        folded, dirty_at_sync_end = now, dirty_left
                        cpu_at_fold = cpu_s(hub_proc.pid)
                        rss_at_sync_end = vm_hwm_mb(hub_proc.pid)
                    if folded is not None and dirty_left == 0:
                        pushed = now
                    elif folded is not None and push_wait is not None and now - folded > push_wait:
                        break  # the pushes' rate is measured; the rest is left to them
                    if verbose:
                        print(
                            f"+{now - sync_began:6.1f}s inbox {status['inbox_pending']}, "
                            f"dirty {status['dirty_targets']}, rss {vm_hwm_mb(hub_proc.pid)} MB",
                            file=sys.stderr,
                        )
                if now - hub_began > 7200:
                    raise TimeoutError("the hub did not finish the full sync")
                time.sleep(0.2 if sync_began is None else 2.0)
            hub_rss = vm_hwm_mb(hub_proc.pid)
            hub_rss_now = vm_mb(hub_proc.pid, "VmRSS")
            clarus_rss = vm_hwm_mb(clarus_proc.pid)
        if sync_began is None or stored is None or folded is None:
            raise RuntimeError("the full sync was not seen")
        outcome = check(db_url, skus)
        ended = pushed or time.monotonic()
    sync_s = folded - sync_began
    push_floor = skus / lines / cps
    return {
        "database": db_kind,
        "skus": skus,
        "seed_s": round(seed_s, 1),
        "items_read_s": round(sync_began - hub_began, 1),
        # The hub's own CPU (all its threads), which the load on the machine does not inflate.
        "items_read_cpu_s": round(cpu_at_sync, 1),
        "floor_s": round(floor_s, 2),
        "stored_s": round(stored - sync_began, 1),
        "sync_s": round(sync_s, 1),
        "sync_s_per_100k": round(sync_s / skus * 100_000, 1),
        "floor_s_per_100k": round(floor_s / skus * 100_000, 2),
        "sync_ratio": round(sync_s / floor_s, 1),
        "sync_rows_per_s": round(skus / sync_s),
        "sync_cpu_s": round(cpu_at_fold - cpu_at_sync, 1),
        "sync_cpu_us_per_row": round((cpu_at_fold - cpu_at_sync) / skus * 1e6),
        "push_s": round(ended - folded, 1),
        "push_floor_s": round(push_floor, 1),
        "dirty_at_sync_end": dirty_at_sync_end,
        "pushed_per_s_after_sync": round(
            (dirty_at_sync_end - outcome["dirty_left"]) / max(ended - folded, 0.001)
        ),
        "hub_peak_rss_at_sync_end_mb": rss_at_sync_end,
        "hub_peak_rss_mb": hub_rss,
        "hub_rss_at_end_mb": hub_rss_now,
        "clarus_peak_rss_mb": clarus_rss,
        **outcome,
        "wall_s": round(time.monotonic() - started, 1),
        # Other work on the machine while this ran (runnable processes, 1-minute average).
        "load_average_at_end": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--ims-cps", type=float, default=50.0)
    parser.add_argument("--lines", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the hub's backlog and memory")
    parser.add_argument(
        "--push-wait", type=float, help="seconds to let the pushes run after the sync (default: until done)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stockbridge-million-") as tmp:
        result = run(
            args.skus, args.database, args.ims_cps, args.lines, Path(tmp), args.verbose, args.push_wait
        )
    print(
        f"{result['skus']:,} rows: {result['sync_s_per_100k']} s per 100k rows "
        f"({result['sync_ratio']}x the bare paging floor), "
        f"peak RSS {result['hub_peak_rss_at_sync_end_mb']} MB after the sync, "
        f"{result['hub_peak_rss_mb']} MB at the end, "
        f"correct: {result['correct']}",
        file=sys.stderr,
    )
    if args.record:
        record(
            f"A million SKUs (bench/million.py, {result['database']}, {result['skus']:,} SKUs)",
            f"Full sync of {result['skus']:,} snapshot rows (1,000 a page) into IMS targets, then every "
            f"figure pushed to the IMS ({args.ims_cps:g} calls/s, {args.lines} lines a call). Target: "
            "hub_peak_rss_mb < 500 at a million SKUs.\n\n"
            "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in result.items()),
        )
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    if not result["correct"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
