"""The `stockbridge` command: set up, check, run, inspect and repair the hub.

`base` holds the root app and what every command shares; each module adds its commands to it.
"""

from stockbridge.cli import alerts, docs, finance, orders, repair, report, run, simulated, stock, tokens  # noqa: F401  (they register commands)
from stockbridge.cli.base import app

__all__ = ["app"]
