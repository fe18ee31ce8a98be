"""Fault injectors: each fault kind as a start and an end action at the system's edges (simulator
control APIs, signals to the hub's processes, the throwaway PostgreSQL, the mail server, the SQLite
page limit). They decide nothing: the schedule says what and when.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from stockbridge.chaos.postgres import ThrowawayPostgres
from stockbridge.chaos.schedule import Fault, FaultKind
from stockbridge.chaos.world import World

Action = Callable[[World, Fault], None]

FAR_LATENCY_MS = 12_000  # past the hub's 10 s connector timeout (set in the chaos configuration)
CLARUS_SKEW_S = 300.0


def _nothing(world: World, fault: Fault) -> None:
    return None


def _kill(world: World, fault: Fault) -> None:
    # Round the processes from a seeded start, so that with workers every kind of process is killed.
    names = world.fleet.names
    name = names[(world.kill_start + world.injected[fault.kind] - 1) % len(names)]
    pid = world.fleet.kill(name)
    world.log.append(f"{fault.at_s:7.1f}s SIGKILL {name} (pid {pid})")


def _pg(world: World) -> ThrowawayPostgres:
    if world.postgres is None:
        raise RuntimeError("a PostgreSQL fault was scheduled on a run without the throwaway cluster")
    return world.postgres


def _pg_terminate(world: World, fault: Fault) -> None:
    cut = _pg(world).terminate_backends()
    world.log.append(f"{fault.at_s:7.1f}s pg_terminate_backend cut {cut} sessions")


def _far_timeout_start(world: World, fault: Fault) -> None:
    world.ims_faults(latency_ms=FAR_LATENCY_MS)
    world.clarus_faults(create_timeout_rate=0.5, timeout_delay_s=FAR_LATENCY_MS / 1000)


def _far_timeout_end(world: World, fault: Fault) -> None:
    world.ims_faults(latency_ms=0)
    world.clarus_faults(create_timeout_rate=0.0)


def _after_snapshot_start(world: World, fault: Fault) -> None:
    # Deliveries held 1-3 s while the hub reads a full snapshot: webhooks for older sequences then
    # arrive after the snapshot that already contains their effect (and newer ones).
    world.clarus_faults(delay_ms=[1000, 3000])
    world.shopify_webhook_faults(delay_ms=SHOPIFY_DELAY_MS)
    deadline = time.monotonic() + 30
    while True:  # the hub may be restarting after a kill
        try:
            world.hub.run_job("full_sync", wait=False)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


_POISON_KINDS = ("malformed_json", "schema_invalid", "out_of_range")  # docs/simulators/clarus.md


# A store's day has a few dozen order webhooks: one in twenty lost (not Clarus's 1%) so that the
# catch-up query by updated_at has some to find in every run.
SHOPIFY_LOSS_RATE = 0.05
SHOPIFY_DELAY_MS = 2000.0


def _webhooks(world: World, **rates: float) -> None:
    world.clarus_faults(**rates)
    world.shopify_webhook_faults(**rates)


def _loss_start(world: World, fault: Fault) -> None:
    world.clarus_faults(drop_rate=0.01)
    world.shopify_webhook_faults(loss_rate=SHOPIFY_LOSS_RATE)


def _loss_end(world: World, fault: Fault) -> None:
    world.clarus_faults(drop_rate=0)
    world.shopify_webhook_faults(loss_rate=0.0)


def _after_snapshot_end(world: World, fault: Fault) -> None:
    world.clarus_faults(delay_ms=[0, 0])
    world.shopify_webhook_faults(delay_ms=0.0)


def _poison(world: World, fault: Fault) -> None:
    """A signed event no consumer can use, by webhook and in the events feed: the hub must refuse or
    set it aside and keep folding what comes after it."""
    kind = _POISON_KINDS[int(fault.at_s) % len(_POISON_KINDS)]
    response = world.http.post(
        f"{world.clarus_url}/_control/poison", json={"kind": kind, "warehouse_id": "WH1"}
    )
    response.raise_for_status()


def _sqlite_limit(pages: str) -> Action:
    def act(world: World, fault: Fault) -> None:
        if world.sqlite_limit is None:
            raise RuntimeError("SQLite disk full was scheduled on a run without SQLite")
        world.sqlite_limit.write_text(pages)

    return act


def _clock(offset_s: float) -> Action:
    def act(world: World, fault: Fault) -> None:
        world.http.put(f"{world.clarus_url}/_control/clock", json={"offset_s": offset_s}).raise_for_status()

    return act


SHOPIFY_LATENCY_MS = 1500  # well inside the hub's 10 s timeout: slow, not failing
# Shopify's standard plan is 1000 points restored at 100/s. The fault keeps the size (Shopify's
# single-query limit is 1000 points on every plan, and the simulator refuses a query costing more than
# the bucket's size with MAX_COST_EXCEEDED: a bucket of 250 refused the hub's 632-point fulfilment
# query for good, a fault real Shopify never makes) and restores at a fifth of the rate, while another
# client spends it below one stock read (about 200 points requested): the hub's reads slow down and
# THROTTLED answers come back (its image of the bucket is the old one until the next answer).
SHOPIFY_SMALL_BUCKET = {"bucket_size": 1000, "restore_rate": 20.0}
SHOPIFY_STANDARD_BUCKET = {"bucket_size": 1000, "restore_rate": 100.0}
HAND_EDIT_UNITS = 7


SHOPIFY_API = "/admin/api/2026-04/graphql.json"
# What another client of the same app (a second hub process, a script) spends the bucket on: a
# read of 60 levels, requested 242 points, charged per level found (162 with the day's 40 SKUs).
_SPEND = """{ productVariants(first: 60) { nodes { sku inventoryItem { id
  inventoryLevel(locationId: "gid://shopify/Location/1") {
    quantities(names: ["available"]) { quantity } } } } } }"""


def _shopify_small_bucket(world: World, fault: Fault) -> None:
    """The bucket shrinks, and another client of the same app spends what is left: the hub's own
    image of the bucket is now wrong, so its next calls meet THROTTLED and must wait it out."""
    world.shopify_limits(**SHOPIFY_SMALL_BUCKET)
    # On its own thread: while another Shopify fault is on (an outage) the spending waits for it,
    # and the schedule's other faults must not wait with it.
    spender = threading.Thread(target=_spend_bucket, args=(world, fault), name="chaos-spend", daemon=True)
    spender.start()


def _spend_bucket(world: World, fault: Fault) -> None:
    headers = {"X-Shopify-Access-Token": world.shopify_token}
    deadline = time.monotonic() + fault.duration_s / 2
    while time.monotonic() < deadline:
        try:
            answer = world.http.post(
                world.shopify_base() + SHOPIFY_API, json={"query": _SPEND}, headers=headers
            )
        except httpx.HTTPError:
            answer = None
        if answer is None or answer.status_code != 200:
            time.sleep(0.25)  # another fault answers for the store: try again (a pace, not a wait for work)
            continue
        status = ((answer.json().get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
        # Below one of the hub's stock reads (about 200 points): its next read is THROTTLED.
        if float(status.get("currentlyAvailable", 0)) < 200:
            return
    world.log.append(f"{fault.at_s:7.1f}s Shopify: the bucket could not be spent (the store kept failing)")


def _shopify_hand_edit(world: World, fault: Fault) -> None:
    """A merchant types a level into the admin: the hub finds it by its drift check (or a stale
    compare-and-set) and sets the warehouse's figure again."""
    url = world.shopify_base()
    levels = world.http.get(f"{url}/_control/inventory").json()["levels"]
    if not levels:
        raise RuntimeError("the Shopify store has no levels to edit")
    level = levels[int(fault.at_s * 100) % len(levels)]
    edited = int(level["available"] or 0) + HAND_EDIT_UNITS
    body = {"sku": level["sku"], "location_id": level["location_id"], "available": edited}
    world.http.post(f"{url}/_control/inventory", json=body).raise_for_status()
    world.log.append(f"{fault.at_s:7.1f}s Shopify: {level['sku']} available set to {edited} by hand")


@dataclass(frozen=True)
class Injector:
    start: Action
    end: Action = _nothing


INJECTORS: dict[FaultKind, Injector] = {
    FaultKind.KILL: Injector(_kill),
    FaultKind.PG_RESTART: Injector(lambda w, f: _pg(w).restart()),
    FaultKind.PG_TERMINATE: Injector(_pg_terminate),
    FaultKind.PG_REFUSE: Injector(
        lambda w, f: _pg(w).refuse_connections(), lambda w, f: _pg(w).accept_connections()
    ),
    FaultKind.IMS_5XX: Injector(
        lambda w, f: w.ims_faults(fail_rate=0.05), lambda w, f: w.ims_faults(fail_rate=0)
    ),
    # The hub runs at 50 calls/s; the IMS now takes 3: most calls are refused with Retry-After.
    FaultKind.IMS_429: Injector(
        lambda w, f: w.ims_limits(calls_per_second=3), lambda w, f: w.ims_limits(calls_per_second=None)
    ),
    FaultKind.FAR_TIMEOUT: Injector(_far_timeout_start, _far_timeout_end),
    FaultKind.ANSWER_LOST: Injector(
        lambda w, f: w.ims_faults(fail_after_commit_rate=0.1),
        lambda w, f: w.ims_faults(fail_after_commit_rate=0),
    ),
    # The webhook faults hit both senders, Clarus and the Shopify store (its order webhooks).
    FaultKind.WEBHOOK_DUPLICATE: Injector(
        lambda w, f: _webhooks(w, duplicate_rate=0.1), lambda w, f: _webhooks(w, duplicate_rate=0)
    ),
    FaultKind.WEBHOOK_REORDER: Injector(
        lambda w, f: _webhooks(w, reorder_rate=0.2), lambda w, f: _webhooks(w, reorder_rate=0)
    ),
    FaultKind.WEBHOOK_LOSS: Injector(_loss_start, _loss_end),
    FaultKind.WEBHOOK_AFTER_SNAPSHOT: Injector(_after_snapshot_start, _after_snapshot_end),
    FaultKind.FLOOD: Injector(lambda w, f: w.flood.set(), lambda w, f: w.flood.clear()),
    FaultKind.POISON: Injector(_poison),
    FaultKind.SMTP_DOWN: Injector(lambda w, f: w.mail.stop(), lambda w, f: w.mail.start()),
    FaultKind.SQLITE_FULL: Injector(_sqlite_limit("1"), _sqlite_limit("")),
    FaultKind.CLOCK_SKEW: Injector(_clock(CLARUS_SKEW_S), _clock(0.0)),
    FaultKind.SHOPIFY_OUTAGE: Injector(
        lambda w, f: w.shopify_faults(outage=True), lambda w, f: w.shopify_faults(outage=False)
    ),
    FaultKind.SHOPIFY_AFTER_COMMIT: Injector(
        lambda w, f: w.shopify_faults(fail_after_commit_rate=0.2),
        lambda w, f: w.shopify_faults(fail_after_commit_rate=0.0),
    ),
    FaultKind.SHOPIFY_LATENCY: Injector(
        lambda w, f: w.shopify_faults(latency_ms=SHOPIFY_LATENCY_MS),
        lambda w, f: w.shopify_faults(latency_ms=0),
    ),
    FaultKind.SHOPIFY_THROTTLE: Injector(
        _shopify_small_bucket, lambda w, f: w.shopify_limits(**SHOPIFY_STANDARD_BUCKET)
    ),
    FaultKind.SHOPIFY_HAND_EDIT: Injector(_shopify_hand_edit),
}


class FaultRunner:
    """Walks the schedule on its own thread: each fault's start at `at_s`, its end at `end_s`."""

    def __init__(self, world: World, faults: tuple[Fault, ...]) -> None:
        self.world = world
        self.faults = faults
        self.errors: list[str] = []
        self.started_at = 0.0
        self.finished_at: float | None = None  # monotonic time the last fault ended
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-faults", daemon=True)

    def start(self, started_at: float) -> None:
        self.started_at = started_at
        self._thread.start()

    def _timeline(self) -> list[tuple[float, bool, Fault]]:
        steps = [(f.at_s, True, f) for f in self.faults]
        steps += [(f.end_s, False, f) for f in self.faults if f.duration_s > 0]
        return sorted(steps, key=lambda s: (s[0], s[1]))  # ends before starts at the same instant

    def _run(self) -> None:
        for at_s, starting, fault in self._timeline():
            # Waiting for a scheduled instant, not for work: the schedule is the point.
            if self._stop.wait(max(0.0, self.started_at + at_s - time.monotonic())):
                return
            injector = INJECTORS[fault.kind]
            try:
                if starting:
                    self.world.injected[fault.kind] += 1
                    injector.start(self.world, fault)
                else:
                    injector.end(self.world, fault)
            except (httpx.HTTPError, OSError, RuntimeError, subprocess.SubprocessError, psycopg.Error) as exc:
                self.errors.append(f"{fault.kind} {'start' if starting else 'end'} at {at_s}s: {exc!r}")
        self.finished_at = time.monotonic()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
