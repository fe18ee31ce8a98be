"""What every `stockbridge` command shares: the root app, consoles, the config option, loading."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import Engine

from stockbridge.config import Config, ConfigError, check_environment, load_config
from stockbridge.store.db import make_engine, upgrade

app = typer.Typer(
    help="stockbridge: keeps Clarus WMS, the IMS and storefronts telling the same truth.",
    no_args_is_help=True,
)


console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The YAML configuration file.")]
DEFAULT_CONFIG = Path("stockbridge.yaml")


class LogLevelName(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


class LogFormatName(StrEnum):
    console = "console"
    json = "json"


LogLevelOption = Annotated[
    LogLevelName | None, typer.Option("--log-level", help="Log level (default: hub.log_level).")
]
LogFormatOption = Annotated[
    LogFormatName | None,
    typer.Option("--log-format", help="Log lines as key=value text or JSON (default: hub.log_format)."),
]


def configure_logs(config: Config, level: LogLevelName | None, fmt: LogFormatName | None) -> None:
    from stockbridge.logs import configure_logging

    configure_logging(
        level.value if level else config.hub.log_level, fmt.value if fmt else config.hub.log_format
    )


def load(path: Path, *, need_secrets: bool = False) -> Config:
    try:
        config = load_config(path)
        if need_secrets:
            check_environment(config, str(path))
        return config
    except ConfigError as exc:
        err.print(f"[red]config error[/red] {exc.file}: [bold]{exc.key}[/bold]: {exc.message}")
        raise typer.Exit(2) from None


def engine_for(config: Config) -> Engine:
    engine = make_engine(config.effective_database_url())
    upgrade(engine)
    return engine
