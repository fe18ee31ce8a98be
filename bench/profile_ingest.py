"""Where the hub's webhook path spends its time: py-spy samples `stockbridge serve --no-workers`
(whichever thread holds the GIL, the group commit's included: with one interpreter lock that is
what bounds the rate) while bench/ingest.py's load generator drives it. The fsync, which releases
the lock, does not show: the next group gathers while it runs (decision 0003).

Prints the functions with the most samples, by own time (the frame on top of the stack) and by
inclusive time (anywhere on the stack), as shares of all samples. Needs py-spy (`pip install
py-spy`); not part of `make bench`.

    python bench/profile_ingest.py [--seconds S] [--connections C] [--top N] [--database sqlite|postgresql]
    python bench/profile_ingest.py --summarise RAW [--top N]  # stacks from bench/peer.py --profile
"""

from __future__ import annotations

import argparse
import collections
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml

from common import database, process, python, wait_http
from ingest import HOST, SECRET, ingest_only_config, signed_requests
from loadgen import drive
from stockbridge.servers import free_port


def profile(db_url: str, workdir: Path, seconds: float, connections: int) -> Path:
    port = free_port()
    config = ingest_only_config(db_url, port)
    path = workdir / "profile.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {
        "CLARUS_API_KEY": "x",
        "CLARUS_WEBHOOK_SECRET": SECRET,
        "IMS_TOKEN": "x",
        "STOCKBRIDGE_DATABASE_URL": db_url,
    }
    hub = [python(), "-m", "stockbridge.cli", "serve", "--config", str(path), "--no-workers"]
    with process(hub, env) as server:
        wait_http(f"http://{HOST}:{port}/health", timeout_s=60)
        drive(HOST, port, signed_requests(port, 2000, 1), connections, 1.0)  # warm-up
        requests = signed_requests(port, int(seconds * 40_000), 2)
        out = workdir / "profile.txt"
        spy = shutil.which("py-spy") or str(Path(python()).parent / "py-spy")
        record = [spy, "record", "--format", "raw", "--threads", "--gil", "--nonblocking", "-r", "200"]
        record += ["-d", str(int(seconds) + 1), "-p", str(server.pid), "-o", str(out)]
        with process(record) as sampler:
            time.sleep(0.5)
            result = drive(HOST, port, requests, connections, seconds)
            sampler.wait()
        print(f"{result.per_s:,.0f} events/s while sampled ({result.failed} failed)", file=sys.stderr)
    return out


def _short(frame: str) -> str:
    """`name (path/to/file.py:12)` → `name (file.py)`: one entry per function, not per line."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_short(f) for f in stack.split(";")[1:]]  # the first is the thread
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} busy samples", "", "| own | function |", "|---|---|"]
    lines += [f"| {100 * n / total:.1f}% | `{name}` |" for name, n in own.most_common(top)]
    lines += ["", "| inclusive | function |", "|---|---|"]
    lines += [f"| {100 * n / total:.1f}% | `{name}` |" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--database", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--keep", type=Path, help="also copy py-spy's raw stacks here")
    parser.add_argument("--summarise", type=Path, help="only summarise raw stacks from this file")
    args = parser.parse_args()
    if args.summarise:  # e.g. bench/peer.py --hub-only --profile FILE
        print(summarise(args.summarise, args.top))
        return
    with (
        tempfile.TemporaryDirectory(prefix="stockbridge-profile-") as tmp,
        database(args.database, Path(tmp)) as url,
    ):
        raw = profile(url, Path(tmp), args.seconds, args.connections)
        if args.keep:
            shutil.copy(raw, args.keep)
        print(summarise(raw, args.top))


if __name__ == "__main__":
    main()
