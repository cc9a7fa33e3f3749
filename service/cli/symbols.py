"""``ticker-service symbols add|set|list|remove|enable|disable``: which pairs each exchange
streams, and which of them also collect history (trades, 1m candles, since when).

Each command is one transaction: one malformed or unknown symbol and nothing
is written. After a change is committed the beat is told, and applies it at
once (``service.cli.notify``). ``add --wait`` returns when the new symbols
tick, or says why not (``service.cli.wait``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from service.cli.exchanges import format_table
from service.cli.history_flags import add_history_options, history_choice, history_words
from service.cli.notify import tell_beat
from service.cli.times import format_iso
from service.cli.wait import DEFAULT_TIMEOUT_S, Target, wait_for_ticks
from service.db import repo
from service.db.session import migrated_session
from service.errors import ValidationError
from service.keys import Keys
from service.redis_client import sync_client
from service.settings import Settings
from workers.clock import now_ms


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("symbols", help="add, list, enable, disable, remove symbols")
    actions = parser.add_subparsers(dest="symbols_action", required=True, metavar="ACTION")
    for action, func, text in (
        ("add", run_add, "add unified symbols (e.g. BTC/USDT) to an exchange"),
        ("remove", run_remove, "delete symbols of an exchange"),
        ("enable", run_enable, "stream these symbols again"),
        ("disable", run_disable, "stop streaming these symbols, keep their rows"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("exchange", help="the exchange's name")
        sub.add_argument("symbols", nargs="+", metavar="SYMBOL", help="unified symbol(s)")
        sub.set_defaults(func=func)
        if action == "add":
            add_history_options(sub, toggles=False)
            _add_wait_options(sub)
    setting = actions.add_parser("set", help="choose what symbols collect besides tickers")
    setting.add_argument("exchange", help="the exchange's name")
    setting.add_argument("symbols", nargs="+", metavar="SYMBOL", help="unified symbol(s)")
    add_history_options(setting, toggles=True)
    setting.set_defaults(func=run_set)
    listing = actions.add_parser("list", help="list symbols of one exchange or of all")
    listing.add_argument("exchange", nargs="?", help="only this exchange")
    listing.add_argument("--json", action="store_true", help="print JSON for machines")
    listing.set_defaults(func=run_list)


def _add_wait_options(add: argparse.ArgumentParser) -> None:
    add.add_argument(
        "--wait", action="store_true", help="return when every new symbol ticks (exit 1 if not)"
    )
    add.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"with --wait: give up after S seconds (default {DEFAULT_TIMEOUT_S:g})",
    )


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    if args.timeout <= 0:
        raise ValidationError(f"--timeout must be a positive number of seconds: {args.timeout:g}")
    since_ms = now_ms()
    history = history_choice(args, since_ms)
    with migrated_session(settings.database_url, action="symbols add") as session:
        added = repo.add_symbols(session, args.exchange, args.symbols, history=history)
    collects = f" ({history_words(history)})" if history.columns() else ""
    if history.since_ms is not None and not (history.trades or history.candles):
        print("note: --since applies once --trades or --candles is set", file=sys.stderr)
    print(
        f"added {len(added)} symbol(s) to {args.exchange}: {' '.join(added)}{collects}", flush=True
    )
    tell_beat(settings, f"symbols add {args.exchange}")
    if not args.wait:
        return 0
    client = sync_client(settings.redis_url)
    try:
        target = Target(args.exchange, tuple(added), since_ms)
        return wait_for_ticks(client, Keys(settings.key_prefix), settings, target, args.timeout)
    finally:
        client.close()


def run_set(args: argparse.Namespace, settings: Settings) -> int:
    history = history_choice(args, now_ms())
    with migrated_session(settings.database_url, action="symbols set") as session:
        changed = repo.set_symbols_history(session, args.exchange, args.symbols, history)
    done = f"set {history_words(history)} on {len(changed)} symbol(s) of {args.exchange}"
    return _report(args, settings, changed, done, already="so", edit="symbols set")


def run_remove(args: argparse.Namespace, settings: Settings) -> int:
    with migrated_session(settings.database_url, action="symbols remove") as session:
        removed = repo.remove_symbols(session, args.exchange, args.symbols)
    print(f"removed {len(removed)} symbol(s) from {args.exchange}: {' '.join(removed)}")
    tell_beat(settings, f"symbols remove {args.exchange}")
    return 0


def run_enable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(args, True, settings)


def run_disable(args: argparse.Namespace, settings: Settings) -> int:
    return _set_enabled(args, False, settings)


def _set_enabled(args: argparse.Namespace, enabled: bool, settings: Settings) -> int:
    word = "enabled" if enabled else "disabled"
    with migrated_session(settings.database_url, action=f"symbols {word}") as session:
        changed = repo.set_symbols_enabled(session, args.exchange, args.symbols, enabled)
    done = f"{word} {len(changed)} symbol(s) on {args.exchange}"
    return _report(args, settings, changed, done, already=word, edit=f"symbols {word}")


def _report(
    args: argparse.Namespace,
    settings: Settings,
    changed: list[str],
    done: str,
    *,
    already: str,
    edit: str,
) -> int:
    """Say what changed (and how many were already so); tell the beat when anything did."""
    unchanged = len(set(args.symbols)) - len(changed)
    print(done + (f" ({unchanged} already {already})" if unchanged else ""))
    if changed:
        tell_beat(settings, f"{edit} {args.exchange}")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    with migrated_session(settings.database_url, action="symbols list") as session:
        rows = repo.list_symbols(session, args.exchange)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    elif not rows:
        where = f" on {args.exchange}" if args.exchange else ""
        print(
            f"no symbols{where} yet: add some with `ticker-service symbols add EXCHANGE SYMBOL...`"
        )
    else:
        cells = [_cells(row) for row in rows]
        print(format_table(("EXCHANGE", "SYMBOL", "ENABLED", "TRADES", "CANDLES", "SINCE"), cells))
    return 0


def _cells(row: repo.SymbolRow) -> tuple[str, ...]:
    since = "" if row.history_since is None else format_iso(row.history_since)
    flags = ("yes" if flag else "no" for flag in (row.enabled, row.trades, row.candles))
    return (row.exchange, row.symbol, *flags, since)
