"""A throwaway PostgreSQL cluster that chaos may restart, cut off and refuse.

The machine's shared server (127.0.0.1:5432) is never touched: other test runs use it. This one is
initialised into a temporary directory, listens on a free loopback port and is removed on exit.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from stockbridge.servers import free_port

DATABASE = "chaos"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (or no user they may run as)."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if found:
        return Path(found[-1])
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is None:
        raise PostgresUnavailable("no initdb/pg_ctl under /usr/lib/postgresql/*/bin or on PATH")
    return Path(pg_ctl).parent


@dataclass
class ThrowawayPostgres:
    """`initdb` + `pg_ctl` into `root`; as the `postgres` OS user when running as root (PostgreSQL
    refuses to run as root)."""

    root: Path
    port: int = field(default_factory=free_port)
    bin_dir: Path = field(default_factory=_bin_dir)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            try:
                shutil.chown(self.root, "postgres", "postgres")
            except LookupError as exc:
                raise PostgresUnavailable("running as root and there is no 'postgres' user") from exc
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl_start()
        with self._admin() as c:
            c.execute(f"CREATE DATABASE {DATABASE}")

    def _pg_ctl_start(self) -> None:
        # fsync off: the cluster is thrown away; what chaos tests is the hub, not the disk.
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start"
        )

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        )

    def restart(self) -> None:
        """Fast shutdown (every session cut) and start again."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self._pg_ctl_start()

    def terminate_backends(self) -> int:
        """`pg_terminate_backend` on every session of the hub's database; how many were cut."""
        with self._admin() as c:
            rows = c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (DATABASE,),
            ).fetchall()
        return sum(1 for (done,) in rows if done)

    def refuse_connections(self) -> None:
        """New sessions are refused ('not currently accepting connections'), open ones cut."""
        with self._admin() as c:
            c.execute(f"ALTER DATABASE {DATABASE} ALLOW_CONNECTIONS false")
        self.terminate_backends()

    def accept_connections(self) -> None:
        with self._admin() as c:
            c.execute(f"ALTER DATABASE {DATABASE} ALLOW_CONNECTIONS true")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started cluster in its own directory under the system temp dir (the `postgres` user must be
    able to reach it, so not inside a root-only temporary directory), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="stockbridge-chaos-pg-"))
    cluster = ThrowawayPostgres(root)
    try:
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
