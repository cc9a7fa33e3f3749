"""Streaming output of stored history: table, csv or json, one row at a time.

Rows come from ``HistoryStore.iter_candles``/``iter_trades`` (a server-side
cursor on Postgres) and leave as they arrive, so a month of trades never sits
in memory, and ``| head`` shows the first lines at once. Times are ISO 8601
UTC in the table and epoch milliseconds in csv and json; prices are written
exactly as stored (Python's shortest round-trip form).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from service.cli.times import format_iso, parse_time
from service.db.migrate import ensure_current
from service.errors import ValidationError
from service.history.records import Range, StreamKey
from service.history.store import HistoryStore
from workers.clock import now_ms

FORMATS = ("table", "csv", "json")


@dataclass(frozen=True)
class Layout:
    """How one kind of row is printed: csv/json field names, and the table's cells."""

    fields: tuple[str, ...]
    values: Callable[[Any], tuple[Any, ...]]  # csv/json values, in ``fields`` order
    table_headers: tuple[str, ...]
    table_widths: tuple[int, ...]
    cells: Callable[[Any], tuple[str, ...]]


def add_read_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("exchange", help="the exchange's name (as in `exchanges list`)")
    parser.add_argument("symbol", help="unified symbol, e.g. BTC/USDT")
    parser.add_argument(
        "--from", dest="start", metavar="T", help=f"first {what} time (default: all)"
    )
    parser.add_argument("--to", dest="end", metavar="T", help="up to T, excluded (default: now)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="default: table")


def window_of(args: argparse.Namespace) -> Range:
    """--from/--to as a half-open range; raises ValidationError naming the option."""
    start = 0 if args.start is None else parse_time(args.start, option="--from")
    end = now_ms() + 1 if args.end is None else parse_time(args.end, option="--to")
    if end < start:
        raise ValidationError(f"--to {format_iso(end)} is before --from {format_iso(start)}")
    return Range(start, end)


def open_store(database_url: str) -> HistoryStore:
    """A store on a database at the head revision; raises DatabaseError saying what to run."""
    store = HistoryStore(database_url)
    try:
        ensure_current(store.engine)
    except BaseException:
        store.close()
        raise
    return store


def print_history(
    args: argparse.Namespace,
    database_url: str,
    key: StreamKey,
    read: Callable[[HistoryStore, StreamKey, Range], Iterable[Any]],
    layout: Layout,
) -> int:
    """Stream ``read(store, key, window)`` to stdout in ``args.format``; exit code 0.

    Says on stderr when the window holds nothing (the data may not be fetched yet).
    """
    window = window_of(args)
    store = open_store(database_url)
    try:
        count = write_rows(read(store, key, window), layout, args.format, sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # `| head` closed the pipe: not an error. Point stdout at /dev/null so the
        # interpreter's last flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        store.close()
    if not count:
        shown = f"[{format_iso(window.start_ms)}, {format_iso(window.end_ms)})"
        print(f"nothing stored for {key} in {shown}", file=sys.stderr)
    return 0


def write_rows(rows: Iterable[Any], layout: Layout, fmt: str, out: TextIO) -> int:
    """Write ``rows`` to ``out`` as they come; returns how many were written."""
    writer = {"csv": _csv, "json": _json, "table": _table}[fmt]
    return writer(rows, layout, out)


def _csv(rows: Iterable[Any], layout: Layout, out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(layout.fields)
    count = 0
    for row in rows:
        writer.writerow(_plain(layout.values(row)))
        count += 1
    return count


def _plain(values: Sequence[Any]) -> list[Any]:
    # csv: booleans as true/false, a missing value as an empty field.
    return [str(v).lower() if isinstance(v, bool) else ("" if v is None else v) for v in values]


def _json(rows: Iterable[Any], layout: Layout, out: TextIO) -> int:
    count = 0
    out.write("[")
    for count, row in enumerate(rows, 1):
        item = dict(zip(layout.fields, layout.values(row), strict=True))
        out.write(("\n  " if count == 1 else ",\n  ") + json.dumps(item))
    out.write("\n]\n" if count else "]\n")
    return count


def _table(rows: Iterable[Any], layout: Layout, out: TextIO) -> int:
    # Fixed widths: a streamed table cannot measure its rows before printing them.
    def line(cells: Sequence[str]) -> str:
        widths = zip(cells, layout.table_widths, strict=True)
        padded = (cell.rjust(w) if w > 0 else cell.ljust(-w) for cell, w in widths)
        return "  ".join(padded).rstrip() + "\n"

    out.write(line(layout.table_headers))
    count = 0
    for row in rows:
        out.write(line(layout.cells(row)))
        count += 1
    return count


def number(value: float) -> str:
    """A price or amount as stored: repr is the shortest exact form."""
    return repr(float(value))


def time_cell(ms: int) -> str:
    return format_iso(ms)
