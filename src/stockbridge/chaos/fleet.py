"""The hub as real processes under a supervisor: one `serve` (API + workers) and, on PostgreSQL,
more `worker` processes. A process that dies (SIGKILL, or an exit on a database error) is started
again, as systemd's `Restart=always` or a Kubernetes Deployment would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

RESTART_DELAY_S = 0.5


@dataclass
class Slot:
    name: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = None


@dataclass
class HubFleet:
    config_path: Path
    environ: dict[str, str]
    workers: int  # processes that run workers, the `serve` one included
    log_dir: Path
    slots: list[Slot] = field(default_factory=list)
    restarts: Counter[str] = field(default_factory=Counter)
    exits: Counter[int] = field(default_factory=Counter)  # exit codes of processes that died by themselves
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _watcher: threading.Thread | None = None

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.slots = [Slot("hub", ["serve", "--worker-id", "hub"])]
        self.slots += [
            Slot(f"worker-{n}", ["worker", "--worker-id", f"worker-{n}"]) for n in range(1, self.workers)
        ]
        for slot in self.slots:
            self._spawn(slot)
        self._watcher = threading.Thread(target=self._watch, name="hub-supervisor", daemon=True)
        self._watcher.start()

    def _spawn(self, slot: Slot) -> None:
        if slot.log is None:
            slot.log = (self.log_dir / f"{slot.name}.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "stockbridge.chaos.hub_process",
            *slot.args,
            "--config",
            str(self.config_path),
        ]
        slot.process = subprocess.Popen(
            command, env={**os.environ, **self.environ}, stdout=slot.log, stderr=subprocess.STDOUT
        )

    def _watch(self) -> None:
        while not self._stop.wait(RESTART_DELAY_S):
            with self._lock:
                for slot in self.slots:
                    assert slot.process is not None
                    code = slot.process.poll()
                    if code is None:
                        continue
                    if code != -signal.SIGKILL:
                        self.exits[code] += 1
                    self.restarts[slot.name] += 1
                    self._spawn(slot)

    def kill(self, name: str) -> int:
        """SIGKILL the named process (the supervisor starts it again); its pid."""
        with self._lock:
            slot = next(s for s in self.slots if s.name == name)
            assert slot.process is not None
            pid = slot.process.pid
            slot.process.send_signal(signal.SIGKILL)
            return pid

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.slots]

    def stop(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=10)
        for slot in self.slots:
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signal.SIGTERM)
        for slot in self.slots:
            if slot.process is None:
                continue
            try:
                slot.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                slot.process.send_signal(signal.SIGKILL)
                slot.process.wait()
            if slot.log is not None:
                slot.log.close()
