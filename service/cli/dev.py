"""``ticker-service dev [--symbols N] [--web-port P] [--no-demo]``: everything, locally."""

from __future__ import annotations

import argparse
from typing import Any

from service.devrun import DevOptions, run_dev
from service.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run Redis, demo simulators, a worker, the beat and the web process locally",
        description="Start the whole service on this machine until Ctrl-C: the Redis at "
        "REDIS_URL (or an embedded one when none answers), the database at DATABASE_URL "
        "(migrated; an empty one gets two simulated demo exchanges), a Dramatiq worker, "
        "ticker-scheduler and ticker-service serve. Exit code 1 when a process dies.",
    )
    parser.add_argument(
        "--symbols", type=int, default=24, help="symbols per demo exchange (default 24)"
    )
    parser.add_argument(
        "--web-port", type=int, default=8000,
        help="port of the web process (default 8000; a free one when taken)",
    )  # fmt: skip
    parser.add_argument(
        "--no-demo", action="store_true", help="no simulators and no demo exchanges"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    options = DevOptions(symbols=args.symbols, web_port=args.web_port, demo=not args.no_demo)
    return run_dev(options, settings)
