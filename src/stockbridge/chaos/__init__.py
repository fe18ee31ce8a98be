"""Chaos: the scripted day under a fault schedule, checked from the simulators' own state.

`schedule` is pure (which faults, when); `injectors`, `fleet`, `postgres` and `world` act at the
edges; `checks` judge the end state per channel; `run` ties them together; `report` prints the table.
"""

from stockbridge.chaos.run import ChaosOptions, ChaosReport, run_chaos
from stockbridge.chaos.schedule import FULL, PROFILES, QUICK, Fault, FaultKind, plan

__all__ = [
    "FULL",
    "PROFILES",
    "QUICK",
    "ChaosOptions",
    "ChaosReport",
    "Fault",
    "FaultKind",
    "plan",
    "run_chaos",
]
