"""Run the IMS simulator: `python -m stockbridge.simulators.ims --port 8002`."""

from __future__ import annotations

import argparse

from . import ImsSettings, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stockbridge.simulators.ims", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--account-id", default=ImsSettings.account_id)
    parser.add_argument("--bearer-token", action="append", help="accepted bearer token (repeatable)")
    parser.add_argument("--concurrency-limit", type=int, default=ImsSettings.concurrency_limit)
    parser.add_argument("--calls-per-second", type=float, default=None)
    parser.add_argument("--max-lines-per-request", type=int, default=ImsSettings.max_lines_per_request)
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--fail-after-commit-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = ImsSettings(
        account_id=args.account_id,
        concurrency_limit=args.concurrency_limit,
        calls_per_second=args.calls_per_second,
        max_lines_per_request=args.max_lines_per_request,
        fail_rate=args.fail_rate,
        fail_after_commit_rate=args.fail_after_commit_rate,
        latency_ms=args.latency_ms,
        seed=args.seed,
    )
    if args.bearer_token:
        settings.bearer_tokens = list(args.bearer_token)
    serve(settings, args.host, args.port)


if __name__ == "__main__":
    main()
