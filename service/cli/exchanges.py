"""``ticker-service exchanges add|set|list|enable|disable|remove``: what to stream.

Each command is one transaction: it writes everything or nothing. Credentials
never go in the database: ``--params`` with an apiKey, secret... is refused.
After a change is committed the beat is told, and applies it at once
(``service.cli.notify``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from service.cli.notify import tell_beat
from service.db import repo
from service.db.session import migrated_session
from service.db.validation import parse_json_object
from service.errors import ValidationError
from service.history.exchange_config import check_requests_per_minute, set_requests_per_minute
from service.settings import Settings
from workers.spec import MODES

PARAMS_WIDTH = 48


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("exchanges", help="add, list, enable, disable, remove exchanges")
    actions = parser.add_subparsers(dest="exchanges_action", required=True, metavar="ACTION")
    _register_add(actions)
    _register_set(actions)
    listing = actions.add_parser("list", help="list every exchange with its symbol counts")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    listing.set_defaults(func=run_list)
    for action, func, text in (
        ("enable", run_enable, "stream this exchange again"),
        ("disable", run_disable, "stop streaming this exchange, keep its rows"),
        ("remove", run_remove, "delete this exchange and its symbols"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help="the exchange's name (its job key)")
        sub.set_defaults(func=func)


def _register_add(actions: Any) -> None:
    add = actions.add_parser("add", help="add an exchange to stream")
    add.add_argument("name", help="job key: lowercase letters, digits, '-', '_' (e.g. binance)")
    add.add_argument("--ccxt-id", required=True, help="ccxt exchange id, e.g. binance")
    add.add_argument("--params", default="{}", help="JSON object for the ccxt constructor")
    add.add_argument("--mode", default="auto", help=f"one of {', '.join(MODES)} (default auto)")
    add.add_argument("--poll-interval", type=float, default=2.0, help="seconds between polls")
    add.add_argument("--watch-params", default="{}", help="JSON object for watch_tickers")
    add.add_argument("--disabled", action="store_true", help="add it without streaming it yet")
    add.add_argument("--requests-per-minute", type=_budget, default=None, help=BUDGET_HELP)
    add.set_defaults(func=run_add)


BUDGET_HELP = "REST requests a minute for history, all workers together (default: ccxt's rateLimit)"


def _register_set(actions: Any) -> None:
    change = actions.add_parser("set", help="change an exchange's request budget")
    change.add_argument("name", help="the exchange's name")
    change.add_argument(
        "--requests-per-minute",
        type=_budget,
        required=True,
        help=BUDGET_HELP + "; 'auto' goes back to the default",
    )
    change.set_defaults(func=run_set)


def _budget(value: str) -> int | None:
    """--requests-per-minute: a whole number of at least 2, or 'auto' (None)."""
    if value == "auto":
        return None
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number or 'auto', got {value!r}"
        ) from None
    try:
        return check_requests_per_minute(number)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    with migrated_session(settings.database_url, action="exchanges set") as session:
        set_requests_per_minute(session, args.name, args.requests_per_minute)
    budget = args.requests_per_minute or "from ccxt's rateLimit"
    print(f"exchange {args.name}: requests per minute {budget}")
    return 0


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    params = parse_json_object(args.params, option="--params")
    watch_params = parse_json_object(args.watch_params, option="--watch-params")
    with migrated_session(settings.database_url, action="exchanges add") as session:
        repo.add_exchange(
            session,
            args.name,
            args.ccxt_id,
            ccxt_params=params,
            mode=args.mode,
            poll_interval_s=args.poll_interval,
            watch_params=watch_params,
            enabled=not args.disabled,
        )
        if args.requests_per_minute is not None:
            set_requests_per_minute(session, args.name, args.requests_per_minute)
    state = "disabled" if args.disabled else "enabled"
    print(f"added exchange {args.name} (ccxt {args.ccxt_id}, mode {args.mode}, {state})")
    tell_beat(settings, f"exchanges add {args.name}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with migrated_session(settings.database_url, action="exchanges list") as session:
        rows = repo.list_exchanges(session)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    elif not rows:
        print("no exchanges yet: add one with `ticker-service exchanges add NAME --ccxt-id ID`")
    else:
        headers = ("NAME", "CCXT ID", "ENABLED", "MODE", "POLL S", "SYMBOLS", "PARAMS")
        print(format_table(headers, [_cells(row) for row in rows]))
    return 0


def _cells(row: repo.ExchangeRow) -> tuple[str, ...]:
    params = json.dumps(row.ccxt_params, sort_keys=True)
    if len(params) > PARAMS_WIDTH:
        params = params[: PARAMS_WIDTH - 3] + "..."
    return (
        row.name,
        row.ccxt_id,
        "yes" if row.enabled else "no",
        row.mode,
        f"{row.poll_interval_s:g}",
        f"{row.symbols_enabled}/{row.symbols_total}",
        params,
    )


def run_enable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(args.name, True, settings)


def run_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(args.name, False, settings)


def _set_enabled(name: str, enabled: bool, settings: Settings) -> int:
    word = "enabled" if enabled else "disabled"
    with migrated_session(settings.database_url, action=f"exchanges {word}") as session:
        changed = repo.set_exchange_enabled(session, name, enabled)
    print(f"exchange {name} {word}" if changed else f"exchange {name} was already {word}")
    if changed:
        tell_beat(settings, f"exchanges {word} {name}")
    return 0


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    with migrated_session(settings.database_url, action="exchanges remove") as session:
        count = repo.remove_exchange(session, args.name)
    print(f"removed exchange {args.name} and its {count} symbol(s)")
    tell_beat(settings, f"exchanges remove {args.name}")
    return 0


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns, two spaces apart, headers first; no trailing spaces."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    lines = [
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (headers, *rows)
    ]
    return "\n".join(lines)
