"""`stockbridge chaos`: the scripted day under the fault schedule, then the end-state checks."""

from __future__ import annotations

import contextlib
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from rich.console import Console

from stockbridge.chaos import storefront_checks, storefront_order_checks  # noqa: F401  (register their checks)
from stockbridge.chaos.checks import ChannelResult, CheckContext, DayRecord, run_checks
from stockbridge.chaos.day import ScriptedDay
from stockbridge.chaos.fleet import HubFleet
from stockbridge.chaos.hub_process import LIMIT_ENV
from stockbridge.chaos.injectors import FaultRunner
from stockbridge.chaos.postgres import ThrowawayPostgres, throwaway_postgres
from stockbridge.chaos.schedule import Fault, Profile, last_fault_end, plan
from stockbridge.chaos.shop_day import SHOP_PREFIX
from stockbridge.chaos.world import MailServer, World
from stockbridge.config import Config, parse_config
from stockbridge.demo import CLARUS_KEY, IMS_TOKEN, WEBHOOK_SECRET, HubControl, demo_config_data, subscribed
from stockbridge.demo.despatch_day import Mailbox
from stockbridge.demo.harness import healthy, issue_token, wait_for
from stockbridge.servers import free_port, serve_in_thread
from stockbridge.simulators import clarus as clarus_sim
from stockbridge.simulators import ims as ims_sim
from stockbridge.simulators import shopify as shopify_sim

T = TypeVar("T")
SHOPIFY_TOKEN = "shpat_chaos"
SHOPIFY_SECRET = "shopify-chaos-secret"
SHOPIFY_LOCATION = "gid://shopify/Location/1"  # the simulator's first location, fed from WH1
ENVIRON = {
    "CLARUS_API_KEY": CLARUS_KEY,
    "CLARUS_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "IMS_TOKEN": IMS_TOKEN,
    "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
    "SHOPIFY_WEBHOOK_SECRET": SHOPIFY_SECRET,
}


@dataclass(frozen=True)
class ChaosOptions:
    profile: Profile
    database: str = "sqlite"  # or "postgresql": a throwaway cluster, never the machine's shared one
    workers: int = 1  # processes running workers (the `serve` one included); PostgreSQL only past 1
    seed: int = 1
    converge_timeout_s: float = 180.0
    settle_s: float = 10.0  # after converging, watch this long before the final checks
    quiet: bool = False
    keep_logs: Path | None = None  # copy the hub processes' logs (and the SQLite file) here


@dataclass
class ChaosReport:
    options: ChaosOptions
    faults: tuple[Fault, ...]
    injected: dict[str, int]
    skipped: dict[str, int]
    events: int
    movements: int
    orders: int
    shipments: int
    webhooks: dict[str, Any]
    channels: list[ChannelResult]
    converge_s: float | None  # after the last fault ended; None: never within the timeout
    restarts: dict[str, int]
    unexpected_exits: dict[int, int]
    injector_errors: list[str]
    log: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def total(self, what: str) -> int:
        return sum(int(getattr(c, what)) for c in self.channels)

    @property
    def passed(self) -> bool:
        return self.converge_s is not None and all(c.clean for c in self.channels)


def chaos_config(
    clarus_url: str, ims_url: str, database_url: str, smtp_port: int, shopify_url: str | None = None
) -> dict[str, Any]:
    """The demo's configuration with the hub's schedules at production-like short intervals: the
    chaos run relies on them (nobody presses 'run now'), and on ten-second far-API timeouts. With
    `shopify_url`, a Shopify store is a second stock channel: only `available` counts for it, less a
    buffer (one class of SKUs keeps more back), as DESIGN §3 has a storefront."""
    data = demo_config_data(clarus_url, ims_url, free_port(), database_url, 50.0)
    data["connectors"]["clarus"]["timeout_s"] = 10
    data["connectors"]["ims"]["timeout_s"] = 10
    # The drift check also repairs: it finds the level a merchant typed in by hand.
    data["schedules"].update({"events_poll_s": 5, "full_sync_s": 30, "drift_check_s": 15})
    if shopify_url is not None:
        data["storefronts"] = {
            "shopify": {
                "kind": "shopify",
                "shop_domain": "stockbridge-chaos.myshopify.com",
                "base_url": shopify_url,
                "api_version": "2026-04",
                "locations": {"WH1": SHOPIFY_LOCATION},
                # Its orders go straight to the warehouse (the route is one per store; route ims
                # would need an IMS customer and is tested end to end in tests/e2e).
                "orders_route": "clarus",
                "reference_prefix": SHOP_PREFIX,
                # The catch-up query by updated_at finds the orders whose webhooks were lost.
                "orders_poll_s": 5,
                "timeout_s": 10,
            }
        }
        data["targets"] = {
            **(data.get("targets") or {"ims": {}}),
            # Open demand comes off (the default, decision 0022): the day's IMS and store orders
            # claim units before the warehouse allocates them, and the check takes the same step
            # from the warehouse's own orders. The price: the stale witness is the lenient one
            # (docs/reliability.md).
            "shopify": {"buffer": 1, "classes": {"slow": {"buffer": 3, "skus": ["SKU-0001*"]}}},
        }
        data["inventory_statuses"]["available"]["counts_for"] = [
            *data["inventory_statuses"]["available"]["counts_for"],
            "shopify",
        ]
    data["orders"].update({"poll_s": 2, "revalidate_s": 5})
    data["fulfilment"] = {
        "bill_on_fulfilment": True,
        "notifier": {"kind": "smtp", "smtp_host": "127.0.0.1", "smtp_port": smtp_port},
    }
    return data


def retrying(call: Callable[[], T], timeout_s: float, what: str) -> T:
    """Call the hub while its processes may be down: retry connection errors until the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: {exc!r}") from exc
            time.sleep(0.2)


def run_chaos(options: ChaosOptions) -> ChaosReport:
    with tempfile.TemporaryDirectory(prefix="stockbridge-chaos-") as tmp, _database(options, Path(tmp)) as db:
        database_url, postgres = db
        return _run(options, Path(tmp), database_url, postgres)


@contextlib.contextmanager
def _database(options: ChaosOptions, workdir: Path) -> Iterator[tuple[str, ThrowawayPostgres | None]]:
    if options.database == "postgresql":
        with throwaway_postgres() as postgres:
            yield postgres.url, postgres
    elif options.database == "sqlite":
        yield f"sqlite:///{workdir / 'stockbridge.db'}", None
    else:
        raise ValueError(f"database must be sqlite or postgresql, not {options.database!r}")


def _run(
    options: ChaosOptions, workdir: Path, database_url: str, postgres: ThrowawayPostgres | None
) -> ChaosReport:
    console = Console(stderr=True, quiet=options.quiet)
    started = time.monotonic()
    profile = options.profile
    faults = plan(profile, options.database, options.workers, options.seed)
    console.print(
        f"[bold]chaos[/bold] {profile.name} day of {profile.day_s:.0f}s on {options.database} "
        f"with {options.workers} worker process(es), seed {options.seed}: {len(faults)} faults"
    )
    mailbox = Mailbox()
    mail = MailServer(mailbox)
    mail.start()
    # Clarus retries a delivery for several minutes, so a hub down for a restart or a database
    # outage loses nothing that it has not acknowledged.
    clarus_settings = clarus_sim.ClarusSettings(
        api_key=CLARUS_KEY, seed=options.seed, retry_base_s=0.2, retry_max_s=2.0, max_attempts=500
    )
    ims_settings = ims_sim.ImsSettings(bearer_tokens=[IMS_TOKEN], seed=options.seed)
    shopify_settings = shopify_sim.ShopifySettings(access_token=SHOPIFY_TOKEN, api_secret=SHOPIFY_SECRET)
    http = httpx.Client(timeout=120)
    try:
        with (
            serve_in_thread(clarus_sim.create_app(clarus_settings)) as clarus_url,
            serve_in_thread(ims_sim.create_app(ims_settings)) as ims_url,
            serve_in_thread(shopify_sim.create_app(shopify_settings)) as shopify_url,
        ):
            mailbox.ims_url = ims_url
            data = chaos_config(clarus_url, ims_url, database_url, mail.port, shopify_url)
            config_path = workdir / "stockbridge.yaml"
            config_path.write_text(yaml.safe_dump(data))
            config = parse_config(data, str(config_path))
            environ = dict(ENVIRON)
            sqlite_limit = None
            if postgres is None:
                sqlite_limit = workdir / "sqlite-page-limit"
                environ[LIMIT_ENV] = str(sqlite_limit)
            fleet = HubFleet(config_path, environ, options.workers, workdir / "logs")
            hub_url = f"http://127.0.0.1:{config.hub.port}"
            world = World(
                http,
                clarus_url,
                ims_url,
                HubControl(http, hub_url, issue_token(database_url, "chaos")),
                fleet,
                mail,
                postgres,
                sqlite_limit,
                kill_start=random.Random(f"chaos-kill:{options.seed}").randrange(options.workers),
                shopify_url=shopify_url,
                shopify_token=SHOPIFY_TOKEN,
            )
            fleet.start()
            try:
                return _day(options, world, config, faults, started, console)
            finally:
                fleet.stop()
                if options.keep_logs is not None:
                    _copy_logs(workdir / "logs", options.keep_logs)
    finally:
        mail.stop()
        http.close()


def _save_simulators(http: httpx.Client, world: World, target: Path) -> None:
    """The far systems' end state beside the hub's logs, to read a failure after the run."""
    target.mkdir(parents=True, exist_ok=True)
    for name, url in (("clarus", world.clarus_url), ("ims", world.ims_url)):
        for view in ("state", "orders", "shipments", "sales_orders", "fulfilments"):
            response = http.get(f"{url}/_control/{view}")
            if response.status_code == 200:
                (target / f"{name}-{view}.json").write_text(response.text)
    if world.shopify_url is not None:
        for view in ("inventory", "mutations", "calls", "orders", "webhooks"):
            response = http.get(f"{world.shopify_url}/_control/{view}")
            if response.status_code == 200:
                (target / f"shopify-{view}.json").write_text(response.text)


def _copy_logs(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for kept in [*source.glob("*.log"), *source.parent.glob("stockbridge.db*")]:
        (target / kept.name).write_bytes(kept.read_bytes())


def _day(
    options: ChaosOptions,
    world: World,
    config: Config,
    faults: tuple[Fault, ...],
    started: float,
    console: Console,
) -> ChaosReport:
    http, hub = world.http, world.hub
    wait_for(lambda: healthy(hub.url), 90, "the hub to answer /health")
    # The hub registers its own webhook subscription when it starts (flows/subscriptions.py).
    wait_for(lambda: subscribed(http, world.clarus_url, hub.url), 60, "the hub's webhook subscription")
    record = DayRecord()
    day = ScriptedDay(world, options.profile, options.seed, record)
    day.prepare()
    retrying(lambda: hub.run_job("product_sync", timeout_s=120), 120, "the product sync")
    runner = FaultRunner(world, faults)
    day_started = time.monotonic()
    runner.start(day_started)
    with console.status(f"the day runs under faults ({options.profile.day_s:.0f}s)"):
        day.run(day_started)
        runner.join(timeout_s=max(0.0, day_started + last_fault_end(faults) - time.monotonic()) + 60)
    runner.stop()
    quiet_from = runner.finished_at or time.monotonic()
    storefronts = {"shopify": world.shopify_url} if world.shopify_url else {}
    context = CheckContext(
        http,
        world.clarus_url,
        world.ims_url,
        IMS_TOKEN,
        config,
        record,
        world.mail.mailbox,
        clarus_key=CLARUS_KEY,
        storefronts=storefronts,
    )
    with console.status("waiting for every channel to match the simulators"):
        converge_s = _converge(context, quiet_from, options.converge_timeout_s)
        if converge_s is not None:
            # Not waiting for work: a write that arrives after everything matched (a late push, a
            # full sync) must still show in the verdict.
            time.sleep(options.settle_s)
    channels = run_checks(context)
    if options.keep_logs is not None:
        _save_simulators(http, world, options.keep_logs)
    deliveries = http.get(f"{world.clarus_url}/_control/deliveries").json()
    state = http.get(f"{world.clarus_url}/_control/state").json()
    report = ChaosReport(
        options=options,
        faults=faults,
        injected={str(k): v for k, v in world.injected.items() if v},
        skipped={str(k): v for k, v in world.skipped.items()},
        events=int(state["warehouses"]["WH1"]["sequence"]),
        movements=record.movements,
        orders=len(record.orders),
        shipments=len(http.get(f"{world.clarus_url}/_control/shipments").json()["shipments"]),
        webhooks=deliveries,
        channels=channels,
        converge_s=converge_s,
        restarts=dict(world.fleet.restarts),
        unexpected_exits=dict(world.fleet.exits),
        injector_errors=runner.errors,
        log=world.log,
        wall_s=round(time.monotonic() - started, 1),
    )
    return report


def _converge(context: CheckContext, quiet_from: float, timeout_s: float) -> float | None:
    """Seconds from the end of the last fault until nothing is still on its way to a far system
    (what was written doubled or stale stays so, and is judged afterwards), or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(result.waiting for result in run_checks(context)):
            return round(time.monotonic() - quiet_from, 1)
        time.sleep(1.0)
    return None
