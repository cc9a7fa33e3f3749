"""The history options of ``symbols add`` and ``symbols set``: --trades, --candles, --since.

``--candles`` takes an optional timeframe (``--candles`` alone is 1m, the one
the service keeps); anything else is an error naming the option, as is a
``--since`` in the future.
"""

from __future__ import annotations

import argparse
import re

from service.cli.times import format_iso, parse_since
from service.db.repo import HistoryChoice
from service.errors import ValidationError
from service.history.records import Timeframe

TIMEFRAME_SHAPE = re.compile(r"\d+[smhdwMy]")
KNOWN_TIMEFRAMES = ", ".join(str(t) for t in Timeframe)


def add_history_options(parser: argparse.ArgumentParser, *, toggles: bool) -> None:
    """--trades, --candles [TIMEFRAME], --since T; ``toggles`` adds --no-trades, --no-candles."""
    parser.add_argument(
        "--trades",
        action=argparse.BooleanOptionalAction if toggles else "store_true",
        default=None,
        help="also collect public trades" + (" (or stop)" if toggles else ""),
    )
    parser.add_argument(
        "--candles",
        nargs="?",
        const=str(Timeframe.M1),
        type=_timeframe_argument,
        metavar="TIMEFRAME",
        help=f"also collect candles (timeframe: {KNOWN_TIMEFRAMES}, the default)",
    )
    if toggles:
        parser.add_argument(
            "--no-candles", dest="candles", action="store_false", help="stop collecting candles"
        )
    parser.add_argument(
        "--since",
        metavar="T",
        help="backfill from T (ISO 8601, UTC if no timezone; default: a day before the first run)",
    )


def history_choice(args: argparse.Namespace, now_ms: int) -> HistoryChoice:
    """The parsed options as a HistoryChoice; raises ValidationError naming the bad option."""
    candles = True if isinstance(args.candles, str) else args.candles  # checked when parsed
    since = None if args.since is None else parse_since(args.since, now_ms=now_ms)
    return HistoryChoice(
        trades=args.trades or None if args.trades is not False else False,
        candles=candles,
        since_ms=since,
    )


def _timeframe_argument(value: str) -> str:
    # Checked while argparse reads the option: before it complains about missing
    # SYMBOLs that --candles swallowed (``symbols add binance --candles BTC/USDT``).
    try:
        return check_timeframe(value)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_timeframe(value: str) -> str:
    """``value`` if the service keeps candles of that timeframe; raises ValidationError."""
    if value in {str(t) for t in Timeframe}:
        return value
    if TIMEFRAME_SHAPE.fullmatch(value):
        raise ValidationError(
            f"unknown timeframe {value!r}: this service keeps {KNOWN_TIMEFRAMES} candles"
        )
    raise ValidationError(
        f"expected a timeframe such as 1m, not {value!r}: put the symbols before "
        "the options, or write --candles=1m"
    )


def history_words(choice: HistoryChoice) -> str:
    """``trades on, candles 1m on, since 2026-11-01T00:00:00Z``: what was asked, in words."""
    words = []
    if choice.trades is not None:
        words.append(f"trades {'on' if choice.trades else 'off'}")
    if choice.candles is not None:
        words.append(f"candles {Timeframe.M1} on" if choice.candles else "candles off")
    if choice.since_ms is not None:
        words.append(f"since {format_iso(choice.since_ms)}")
    return ", ".join(words) or "tickers only"
