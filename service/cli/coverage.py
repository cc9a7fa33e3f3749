"""``ticker-service coverage [EXCHANGE [SYMBOL]] [--json]``: the coverage ledger, from the database.

One line per collected stream (from ``history_since`` up to the start of the
current minute): how far it is gap-free, the newest stored row, the gap
minutes, then every gap with its reason (not fetched, fetch failed with the
error, service down). Exit 0 when no stream has a gap, 1 when one has, so a
script can wait for a backfill to finish.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from service.cli.exchanges import format_table
from service.errors import ValidationError
from service.history.plan import horizon_ms
from service.history.records import Coverage, Range
from service.history.store_access import history_store, load_wanted
from service.history.summary import summarize
from service.settings import Settings
from workers.clock import now_ms

HEADER = ("EXCHANGE", "SYMBOL", "STREAM", "SINCE", "GAP-FREE UNTIL", "NEWEST", "GAP MIN")
COMPLETE, GAPS = 0, 1
GAPS_SHOWN = 20  # per stream in the table; --json has them all


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "coverage", help="the history ledger: what is complete, every gap and why"
    )
    parser.add_argument("exchange", nargs="?", help="only this exchange")
    parser.add_argument("symbol", nargs="?", help="only this symbol (e.g. BTC/USDT)")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    now = now_ms()
    coverages = load_coverages(settings.database_url, now, args.exchange, args.symbol)
    print(render_json(coverages, now) if args.json else render_table(coverages))
    return GAPS if any(c.gaps for c in coverages) else COMPLETE


def load_coverages(
    database_url: str, now: int, exchange: str | None, symbol: str | None
) -> list[Coverage]:
    """The ledger of every collected stream (filtered). Raises ValidationError, DatabaseError."""
    wanted = [
        w
        for w in load_wanted(database_url, now)
        if exchange in (None, w.key.exchange) and symbol in (None, w.key.symbol)
    ]
    if not wanted and exchange is not None:
        what = f"{exchange} {symbol}" if symbol else exchange
        raise ValidationError(f"{what}: no enabled symbol collects trades or candles")
    store = history_store(database_url)
    try:
        end = horizon_ms(now)
        return [
            store.coverage(w.key, Range(min(w.since_ms, end), end))
            for w in sorted(wanted, key=lambda w: w.key)
        ]
    finally:
        store.close()


def render_table(coverages: list[Coverage]) -> str:
    """One line per stream, then its gaps indented below it."""
    if not coverages:
        return "no symbol collects history (symbols add|set ... --trades/--candles)"
    header, *table = format_table(HEADER, [_row(c) for c in coverages]).splitlines()
    lines = [header]
    for coverage, line in zip(coverages, table, strict=True):
        lines.append(line)
        lines += [f"    gap {_gap(g)}" for g in coverage.gaps[:GAPS_SHOWN]]
        if len(coverage.gaps) > GAPS_SHOWN:
            lines.append(f"    ... and {len(coverage.gaps) - GAPS_SHOWN} more gaps (--json)")
    return "\n".join(lines)


def _row(c: Coverage) -> tuple[str, ...]:
    s = summarize(c)
    stream = f"{s.kind}:{c.key.timeframe}" if c.key.timeframe else s.kind
    gap_free = "complete" if not c.gaps else iso(s.complete_until_ms)
    return (
        s.exchange,
        s.symbol,
        stream,
        iso(s.since_ms),
        gap_free,
        iso(s.newest_ms),
        f"{s.gap_minutes:g}",
    )


def _gap(g: Any) -> str:
    text = f"{iso(g.range.start_ms)} .. {iso(g.range.end_ms)} {g.reason}"
    return text + (f": {' '.join(g.error.split())}" if g.error else "")


def render_json(coverages: list[Coverage], now: int) -> str:
    """Every stream with its complete ranges and gaps (times in UTC epoch ms)."""
    streams = []
    for c in coverages:
        s = summarize(c)
        streams.append(
            {
                **asdict(s),
                "timeframe": c.key.timeframe,
                "lag_s": s.lag_s(now),
                "complete": [[r.start_ms, r.end_ms] for r in c.complete],
                "gap_list": [
                    {
                        "start_ms": g.range.start_ms,
                        "end_ms": g.range.end_ms,
                        "reason": g.reason,
                        "error": g.error,
                    }
                    for g in c.gaps
                ],
            }
        )
    return json.dumps({"at": now, "streams": streams}, indent=2)


def iso(ms: int | None) -> str:
    """UTC ISO 8601 with ``Z`` (seconds), ``-`` for none."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
