"""The coverage ledger's arithmetic: disjoint, merged ranges per stream (pure, no I/O).

A stream's ledger is a sorted list of disjoint ``Entry`` values: complete
ranges and gaps with their reason. Whatever is not listed was never fetched.
``place`` puts one new entry over the entries it touches and returns their
replacement; adjacent entries of the same state and error merge, so a
backfill of 10,000 pages leaves one complete range, not 10,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from service.history.records import Coverage, Gap, GapReason, Range, StreamKey

COMPLETE = "complete"


@dataclass(frozen=True, order=True)
class Entry:
    """One ledger row: ``state`` is COMPLETE or a GapReason value."""

    range: Range
    state: str
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


def subtract(whole: Range, cut: Range) -> list[Range]:
    """The parts of ``whole`` outside ``cut`` (zero, one or two ranges)."""
    bounds = (
        (whole.start_ms, min(whole.end_ms, cut.start_ms)),
        (max(whole.start_ms, cut.end_ms), whole.end_ms),
    )
    return [Range(start, end) for start, end in bounds if end > start]


def subtract_all(whole: Range, cuts: Iterable[Range]) -> list[Range]:
    """The parts of ``whole`` outside every range of ``cuts``."""
    parts = [whole]
    for cut in cuts:
        parts = [piece for part in parts for piece in subtract(part, cut)]
    return parts


def place(touching: Sequence[Entry], new: Entry) -> list[Entry]:
    """What replaces ``touching`` (the entries overlapping or adjacent to ``new``).

    A complete entry wins over everything it covers. A gap never covers a
    complete range: it takes only the parts not complete, and replaces older
    gaps there (the newest reason and error are the ones shown).
    """
    kept: list[Entry] = []
    for entry in touching:
        if entry.complete and not new.complete:
            kept.append(entry)
            continue
        kept.extend(
            Entry(piece, entry.state, entry.error) for piece in subtract(entry.range, new.range)
        )
    if new.complete:
        pieces = [new.range]
    else:
        pieces = subtract_all(new.range, (e.range for e in touching if e.complete))
    kept.extend(Entry(piece, new.state, new.error) for piece in pieces)
    return merged(kept)


def merged(entries: Iterable[Entry]) -> list[Entry]:
    """``entries`` sorted, with adjacent or overlapping ones of the same state and error joined."""
    out: list[Entry] = []
    for entry in sorted(entries):
        last = out[-1] if out else None
        if (
            last is not None
            and (last.state, last.error) == (entry.state, entry.error)
            and entry.range.start_ms <= last.range.end_ms
        ):
            joined = Range(last.range.start_ms, max(last.range.end_ms, entry.range.end_ms))
            out[-1] = Entry(joined, last.state, last.error)
        else:
            out.append(entry)
    return out


def coverage_of(
    key: StreamKey, wanted: Range, entries: Iterable[Entry], newest_ms: int | None
) -> Coverage:
    """The ledger ``entries`` seen through ``wanted``: clipped, holes as NOT_FETCHED gaps."""
    complete: list[Range] = []
    gaps: list[Gap] = []
    cursor = wanted.start_ms
    for entry in sorted(entries):
        start, end = (
            max(entry.range.start_ms, wanted.start_ms),
            min(entry.range.end_ms, wanted.end_ms),
        )
        if end <= start:
            continue
        if start > cursor:
            gaps.append(Gap(Range(cursor, start), GapReason.NOT_FETCHED))
        if entry.complete:
            complete.append(Range(start, end))
        else:
            gaps.append(Gap(Range(start, end), GapReason(entry.state), entry.error))
        cursor = end
    if cursor < wanted.end_ms:
        gaps.append(Gap(Range(cursor, wanted.end_ms), GapReason.NOT_FETCHED))
    return Coverage(key, wanted, tuple(complete), tuple(gaps), newest_ms)
