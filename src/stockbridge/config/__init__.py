"""Configuration: one YAML file validated by pydantic, secrets read from the environment.

Every model is frozen: configuration is a value, not a place to keep state. A bad file raises
`ConfigError` naming the file, the key (dotted path) and what is wrong.

The sections' models live by group (`connectors`, `stock`, `operations`, `monitoring`, `finance`,
`base`); this module holds the whole `Config`, its cross-section checks and the loaders, and
re-exports every section's model so callers import from `stockbridge.config` alone.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from stockbridge.config.base import DATABASE_URL_ENV, DEFAULT_DATABASE_URL, ConfigError, _Frozen
from stockbridge.config.connectors import (
    _CHANNEL_NAME,
    IMS_CHANNEL_NAME,
    MIN_SHOPIFY_API_VERSION,
    STORE_KINDS,
    ClarusConnector,
    Connectors,
    ImsAuth,
    ImsConnector,
    MagentoStore,
    ShopifyStore,
    Storefront,
    _TaggedStorefront,
)
from stockbridge.config.finance import FinanceReason, FinanceSettings, ReportSettings, Weekday
from stockbridge.config.monitoring import (
    BACKLOG_FAMILIES,
    WAITING_FAMILIES,
    AlertChannel,
    AlertRoute,
    AlertRule,
    AlertSettings,
    AlertSmtp,
    ConnectorHealthSettings,
    DriftChannel,
    DriftSettings,
    EscalationSettings,
    LatencyTarget,
    SloSettings,
)
from stockbridge.config.operations import (
    EngineSettings,
    FulfilmentSettings,
    HubSettings,
    NotifierSettings,
    OrderSettings,
    Owners,
    Schedules,
    SkuRulesSettings,
)
from stockbridge.config.stock import (
    AllocationSettings,
    ClarusStatus,
    LocationMapping,
    SkuClass,
    StatusMapping,
    TargetSettings,
    VelocityClassSettings,
    VelocitySettings,
)
from stockbridge.domain.allocation import POOL, AllocationRule
from stockbridge.domain.ats import AtsRule, BufferClass
from stockbridge.logs import remember_secret

__all__ = [
    "BACKLOG_FAMILIES",
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "EXAMPLE_CONFIG",
    "IMS_CHANNEL_NAME",
    "MIN_SHOPIFY_API_VERSION",
    "STORE_KINDS",
    "WAITING_FAMILIES",
    "AlertChannel",
    "AlertRoute",
    "AlertRule",
    "AlertSettings",
    "AlertSmtp",
    "AllocationSettings",
    "ClarusConnector",
    "ClarusStatus",
    "Config",
    "ConfigError",
    "ConnectorHealthSettings",
    "Connectors",
    "DriftChannel",
    "DriftSettings",
    "EngineSettings",
    "EscalationSettings",
    "FinanceReason",
    "FinanceSettings",
    "FulfilmentSettings",
    "HubSettings",
    "ImsAuth",
    "ImsConnector",
    "LatencyTarget",
    "LocationMapping",
    "MagentoStore",
    "NotifierSettings",
    "OrderSettings",
    "Owners",
    "ReportSettings",
    "Schedules",
    "ShopifyStore",
    "SkuClass",
    "SkuRulesSettings",
    "SloSettings",
    "StatusMapping",
    "Storefront",
    "TargetSettings",
    "VelocityClassSettings",
    "VelocitySettings",
    "Weekday",
    "check_environment",
    "load_config",
    "parse_config",
    "secret",
]


class Config(_Frozen):
    database_url: str = DEFAULT_DATABASE_URL
    hub: HubSettings = HubSettings()
    connectors: Connectors
    locations: Annotated[list[LocationMapping], Field(min_length=1)]
    inventory_statuses: dict[ClarusStatus, StatusMapping]
    storefronts: dict[str, _TaggedStorefront] = {}
    # Every channel has one (filled in with defaults); a key that is no channel is refused.
    targets: Annotated[dict[str, TargetSettings], Field(validate_default=True)] = {}
    owners: Owners = Owners()
    sku_rules: SkuRulesSettings = SkuRulesSettings()
    orders: OrderSettings = OrderSettings()
    fulfilment: FulfilmentSettings = FulfilmentSettings()
    finance: FinanceSettings = FinanceSettings()
    schedules: Schedules = Schedules()
    engine: EngineSettings = EngineSettings()
    drift: DriftSettings = DriftSettings()
    connector_health: ConnectorHealthSettings = ConnectorHealthSettings()
    slo: SloSettings = SloSettings()
    alerts: AlertSettings = AlertSettings()
    # Per Clarus warehouse; a warehouse left out offers the whole pool to every channel.
    allocation: dict[str, AllocationSettings] = {}
    velocity: VelocitySettings | None = None
    reports: ReportSettings | None = None  # None: reports only on demand (`stockbridge report`)

    @field_validator("locations")
    @classmethod
    def _one_location_per_warehouse(cls, locations: list[LocationMapping]) -> list[LocationMapping]:
        seen: set[str] = set()
        for mapping in locations:
            if mapping.warehouse in seen:
                raise ValueError(f"warehouse {mapping.warehouse!r} is mapped twice")
            seen.add(mapping.warehouse)
        return locations

    @field_validator("storefronts")
    @classmethod
    def _storefront_names(cls, storefronts: dict[str, Storefront]) -> dict[str, Storefront]:
        for name in storefronts:
            if name == IMS_CHANNEL_NAME or not _CHANNEL_NAME.fullmatch(name):
                raise ValueError(
                    f"storefront name {name!r} must be 1-32 lower-case letters, digits or _, "
                    f"start with a letter, and not be {IMS_CHANNEL_NAME!r}"
                )
        prefixes: dict[str, str] = {}
        for name, store in storefronts.items():
            other = prefixes.setdefault(store.reference_prefix.upper(), name)
            if other != name:
                raise ValueError(
                    f"storefronts.{name}.reference_prefix {store.reference_prefix!r} is also {other}'s: "
                    "two stores' orders would share references"
                )
        return storefronts

    @field_validator("targets")
    @classmethod
    def _targets_are_channels(
        cls, targets: dict[str, TargetSettings], info: ValidationInfo
    ) -> dict[str, TargetSettings]:
        storefronts = info.data.get("storefronts")
        if storefronts is None:  # storefronts: itself failed; that error is the one to report
            return targets
        channels = [IMS_CHANNEL_NAME, *storefronts]
        for name in targets:
            if name not in channels:
                raise ValueError(
                    f"targets.{name}: {name!r} is neither {IMS_CHANNEL_NAME!r} nor a storefront "
                    f"under storefronts: (channels: {channels})"
                )
        if targets.get(IMS_CHANNEL_NAME, TargetSettings()).subtract_open_demand:
            raise ValueError(
                f"targets.{IMS_CHANNEL_NAME}.subtract_open_demand: the IMS commits its own sales orders; "
                "taking the hub's open orders off its figure would count them twice (DESIGN.md §3)"
            )
        return {name: targets.get(name, TargetSettings()) for name in channels}

    @field_validator("drift")
    @classmethod
    def _drift_channels_are_channels(cls, drift: DriftSettings, info: ValidationInfo) -> DriftSettings:
        storefronts = info.data.get("storefronts")
        if storefronts is None:  # storefronts: itself failed; that error is the one to report
            return drift
        channels = [IMS_CHANNEL_NAME, *storefronts]
        for name in drift.channels:
            if name not in channels:
                raise ValueError(
                    f"drift.channels.{name}: {name!r} is not a stock channel (channels: {channels})"
                )
        return drift

    @model_validator(mode="after")
    def _calls_end_before_their_lease(self) -> Config:
        # A call still running when its lease ends lets another worker send the same command again.
        timeouts = {f"connectors.{n}": getattr(self.connectors, n).timeout_s for n in ("clarus", "ims")}
        timeouts.update({f"storefronts.{n}": s.timeout_s for n, s in self.storefronts.items()})
        for name, timeout in timeouts.items():
            if timeout >= self.engine.lease_s:
                raise ValueError(
                    f"{name}.timeout_s ({timeout}) must be shorter than "
                    f"engine.lease_s ({self.engine.lease_s})"
                )
        notifier = self.fulfilment.notifier
        if notifier.kind != "log" and notifier.timeout_s >= self.engine.lease_s:
            raise ValueError(
                f"fulfilment.notifier.timeout_s ({notifier.timeout_s}) must be shorter than "
                f"engine.lease_s ({self.engine.lease_s})"
            )
        alerting = {
            "webhook_timeout_s": self.alerts.webhook_timeout_s,
            "smtp.timeout_s": self.alerts.smtp.timeout_s,
        }
        for key, timeout in alerting.items():
            if timeout >= self.engine.lease_s:
                raise ValueError(
                    f"alerts.{key} ({timeout}) must be shorter than engine.lease_s ({self.engine.lease_s})"
                )
        return self

    @model_validator(mode="after")
    def _targets_are_known(self) -> Config:
        for status, mapping in self.inventory_statuses.items():
            unknown = mapping.counts_for - set(self.targets)
            if unknown:
                raise ValueError(
                    f"inventory_statuses.{status}.counts_for names {sorted(unknown)}, "
                    f"which is not a target (targets: {sorted(self.targets)})"
                )
        return self

    @model_validator(mode="after")
    def _slo_channels_are_known(self) -> Config:
        channels = self.stock_channels()
        for name in self.slo.latency_ms:
            if name != "default" and name not in channels:
                raise ValueError(
                    f"slo.latency_ms.{name}: {name!r} is no stock channel (channels: {channels})"
                )
        return self

    @model_validator(mode="after")
    def _storefront_warehouses_are_known(self) -> Config:
        warehouses = {m.warehouse for m in self.locations}
        for name, store in self.storefronts.items():
            unknown = sorted(set(store.locations) - warehouses)
            if unknown:
                raise ValueError(
                    f"storefronts.{name}.locations names warehouse(s) {unknown} that locations: does not map"
                )
        return self

    @model_validator(mode="after")
    def _allocation_names_the_stores_there(self) -> Config:
        warehouses = {m.warehouse for m in self.locations}
        for warehouse, settings in self.allocation.items():
            if warehouse not in warehouses:
                raise ValueError(f"allocation.{warehouse}: warehouse {warehouse!r} is not under locations:")
            if settings.rule == "pool":
                continue
            there = [n for n, s in self.storefronts.items() if warehouse in s.locations]
            named = settings.named()
            if IMS_CHANNEL_NAME in named:
                raise ValueError(
                    f"allocation.{warehouse}: {IMS_CHANNEL_NAME!r} keeps its book figure and takes no "
                    "part in a split (docs/decisions/0033)"
                )
            if sorted(named) != sorted(there):
                raise ValueError(
                    f"allocation.{warehouse}: rule {settings.rule} must name every storefront selling "
                    f"from {warehouse} and no other: it names {sorted(named)}, the storefronts there "
                    f"are {sorted(there)}"
                )
        return self

    @model_validator(mode="after")
    def _velocity_buffers_need_classes(self) -> Config:
        if self.velocity is None:
            for name, settings in self.targets.items():
                if settings.velocity_buffers:
                    raise ValueError(f"targets.{name}.velocity_buffers: there is no velocity: section")
        return self

    def allocation_rule(self, warehouse_id: str) -> AllocationRule:
        settings = self.allocation.get(warehouse_id)
        return POOL if settings is None else settings.domain_rule()

    def stock_channels(self) -> list[str]:
        """Every channel the hub tells stock figures: the IMS, then the storefronts in file order."""
        return [IMS_CHANNEL_NAME, *self.storefronts]

    def ats_rule(self, channel: str) -> AtsRule:
        settings = self.targets[channel]
        counted = frozenset(s for s, m in self.inventory_statuses.items() if channel in m.counts_for)
        classes = tuple(BufferClass(c.buffer, tuple(c.skus), n) for n, c in settings.classes.items())
        subtracts = settings.subtract_open_demand
        if subtracts is None:
            subtracts = channel != IMS_CHANNEL_NAME
        return AtsRule(
            counted,
            settings.buffer,
            dict(settings.sku_buffers),
            classes,
            subtracts,
            settings.velocity_buffers,
        )

    def location_of(self, channel: str, warehouse_id: str) -> str | None:
        """The channel's location fed by a Clarus warehouse, or None when the channel has none there."""
        if channel == IMS_CHANNEL_NAME:
            return self.ims_location_of(warehouse_id)
        store = self.storefronts.get(channel)
        return None if store is None else store.locations.get(warehouse_id)

    def order_warehouse(self) -> str:
        return self.orders.warehouse or self.locations[0].warehouse

    def ims_location_of(self, warehouse_id: str) -> str | None:
        return next((m.ims_location for m in self.locations if m.warehouse == warehouse_id), None)

    def warehouse_of_ims_location(self, location: str) -> str | None:
        return next((m.warehouse for m in self.locations if m.ims_location == location), None)

    def effective_database_url(self) -> str:
        return os.environ.get(DATABASE_URL_ENV) or self.database_url

    def required_env(self) -> dict[str, str]:
        """Config key → environment variable for every secret the connectors need."""
        needed = {
            "connectors.clarus.api_key_env": self.connectors.clarus.api_key_env,
            "connectors.clarus.webhook_secret_env": self.connectors.clarus.webhook_secret_env,
        }
        for key, env in self.connectors.ims.auth.env_names().items():
            needed[f"connectors.ims.auth.{key}"] = env
        for name, store in self.storefronts.items():
            needed[f"storefronts.{name}.access_token_env"] = store.access_token_env
            if isinstance(store, ShopifyStore):
                needed[f"storefronts.{name}.webhook_secret_env"] = store.webhook_secret_env
        needed.update(self.alerts.secret_envs())
        return needed


def secret(env_name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (environ if environ is not None else os.environ).get(env_name)
    if not value:
        raise KeyError(env_name)
    remember_secret(value)  # the log pipeline's safety net masks it wherever it might appear
    return value


def parse_config(data: Any, file: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "expected a mapping of keys to values")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A bad mapping key is located at the key itself: `inventory_statuses.availabel`.
        loc = [str(part) for part in first["loc"] if part != "[key]"]
        if loc[:1] == ["storefronts"] and len(loc) >= 3 and loc[2] in STORE_KINDS:
            del loc[2]  # the union's tag: storefronts.<name>.<key>, as for any other section
        elif loc[:1] == ["storefronts"] and first["type"] == "store_kind":
            loc.append("kind")
        key = ".".join(loc) or "(top level)"
        raise ConfigError(file, key, first["msg"]) from None


def load_config(path: str | Path) -> Config:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, file)


def check_environment(config: Config, file: str, environ: Mapping[str, str] | None = None) -> None:
    """Raise `ConfigError` for the first secret whose environment variable is unset."""
    env = environ if environ is not None else os.environ
    for key, name in config.required_env().items():
        if not env.get(name):
            raise ConfigError(file, key, f"environment variable {name} is not set")


EXAMPLE_CONFIG = Path(__file__).parent.parent / "example-config.yaml"
