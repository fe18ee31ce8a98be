"""`stockbridge demo`: simulated Clarus, IMS, a Shopify store and a Magento store on loopback, the hub
against them, a day of movements, orders from the IMS and both stores, and despatches.

The verdict (drift, orders, fulfilments, notices) is the oracle's (`stockbridge.oracle`): computed from
the simulators' own state with none of the hub's rules. The summary table says, row by row, which
figures the oracle checked, which a simulator counted, and which are the hub's own bookkeeping.

`run.py` runs the day; `world.py` holds its options and the hub's configuration for it, `phases.py`
and `days.py` its phases, `hub_control.py` the hub's admin API as the demo uses it, `summary.py` the
summary and the verdict.
"""

from __future__ import annotations

from stockbridge.demo.harness import HubThread, measure_drift
from stockbridge.demo.hub_control import HubControl, metrics_summary
from stockbridge.demo.run import run_demo, write_demo_report
from stockbridge.demo.summary import succeeded
from stockbridge.demo.world import (
    CLARUS_KEY,
    IMS_TOKEN,
    WEBHOOK_SECRET,
    DemoOptions,
    demo_config_data,
    mail_server,
    subscribed,
)

__all__ = [
    "CLARUS_KEY",
    "IMS_TOKEN",
    "WEBHOOK_SECRET",
    "DemoOptions",
    "HubControl",
    "HubThread",
    "demo_config_data",
    "mail_server",
    "measure_drift",
    "metrics_summary",
    "run_demo",
    "subscribed",
    "succeeded",
    "write_demo_report",
]
