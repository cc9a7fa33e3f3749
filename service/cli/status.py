"""``ticker-service status [--json] [--watch [--interval S]]``: is every exchange streaming?

Exit code (usable as a container HEALTHCHECK): 0 when at least one job is
desired and every desired job is up; 1 otherwise (a job stale, down or
failed, or nothing desired at all); 2 when Redis does not answer. The beat's
state is shown and flagged but does not change the exit code: running
streams do not need the beat, and a beat that stops healing shows up as down
jobs soon enough.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import redis

from service.errors import StoreError
from service.health.model import Status
from service.health.render import render_status
from service.health.snapshot import load_status
from service.history.health import HistoryHealth, load_history_health
from service.keys import Keys
from service.redis_client import sync_client
from service.settings import Settings, redact_url

HEALTHY, UNHEALTHY, UNREACHABLE = 0, 1, 2
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="health of every streaming job, its worker and the beat"
    )
    parser.add_argument("--json", action="store_true", help="print the full status as JSON")
    parser.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    parser.add_argument(
        "--interval", type=float, default=2.0, help="seconds between redraws (default 2)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    client = sync_client(settings.redis_url)
    try:
        if not args.watch:
            return show_once(client, settings, as_json=args.json)
        return watch(client, settings, as_json=args.json, interval_s=max(0.1, args.interval))
    finally:
        client.close()


def show_once(client: redis.Redis, settings: Settings, *, as_json: bool) -> int:
    """Print the status once; returns the exit code."""
    try:
        status = load_status(client, Keys(settings.key_prefix), settings)
        history = load_history_health(client, Keys(settings.key_prefix))
    except StoreError as exc:
        where = redact_url(settings.redis_url)
        print(f"error: Redis at {where} does not answer: {exc.__cause__ or exc}", file=sys.stderr)
        return UNREACHABLE
    print(format_status(status, as_json=as_json, history=history), flush=True)
    return HEALTHY if status.healthy else UNHEALTHY


def format_status(status: Status, *, as_json: bool, history: HistoryHealth | None = None) -> str:
    if not as_json:
        return render_status(status, history)
    data = status.to_dict()
    if history is not None:
        data["history"] = history.to_dict()
    return json.dumps(data, sort_keys=True)


def watch(client: redis.Redis, settings: Settings, *, as_json: bool, interval_s: float) -> int:
    """Redraw every ``interval_s`` until Ctrl-C; returns the last exit code.

    With ``--json`` each refresh is one JSON line (no screen clearing), for tools.
    """
    code = UNREACHABLE
    try:
        while True:
            if not as_json:
                print(CLEAR_SCREEN, end="")
            code = show_once(client, settings, as_json=as_json)
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return code
