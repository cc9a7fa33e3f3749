"""The ledger's arithmetic: placing complete ranges and gaps, and coverage over a window."""

from __future__ import annotations

import pytest

from service.history.ledger import COMPLETE, Entry, coverage_of, merged, place
from service.history.records import Gap, GapReason, Range, Stream, StreamKey

KEY = StreamKey("bin", "BTC/USDT", Stream.TRADES)
FAILED = str(GapReason.FETCH_FAILED)


def done(start: int, end: int) -> Entry:
    return Entry(Range(start, end), COMPLETE)


def failed(start: int, end: int, error: str = "boom") -> Entry:
    return Entry(Range(start, end), FAILED, error)


@pytest.mark.parametrize(
    ("touching", "new", "expected"),
    [
        ([], done(0, 10), [done(0, 10)]),
        ([done(0, 10)], done(10, 20), [done(0, 20)]),  # adjacent: merged
        ([done(0, 10), done(20, 30)], done(5, 25), [done(0, 30)]),  # bridges two
        ([failed(0, 30)], done(10, 20), [failed(0, 10), done(10, 20), failed(20, 30)]),
        ([done(10, 20)], failed(0, 30), [failed(0, 10), done(10, 20), failed(20, 30)]),
        ([failed(0, 10, "old")], failed(5, 15, "new"), [failed(0, 5, "old"), failed(5, 15, "new")]),
        ([failed(0, 10)], failed(10, 20), [failed(0, 20)]),  # same error: merged
        ([done(0, 10)], failed(0, 10), [done(0, 10)]),  # a gap never un-completes
    ],
)
def test_place_replaces_what_a_new_entry_touches(
    touching: list[Entry], new: Entry, expected: list[Entry]
) -> None:
    assert place(touching, new) == expected


def test_a_thousand_adjacent_pages_merge_into_one_range() -> None:
    ledger: list[Entry] = []
    for page in range(1000):
        ledger = place(ledger, done(page * 60_000, (page + 1) * 60_000))
    assert ledger == [done(0, 60_000_000)]
    assert merged([done(0, 5), done(3, 8)]) == [done(0, 8)]


def test_coverage_fills_holes_with_not_fetched_and_clips_to_the_window() -> None:
    entries = [done(0, 10), failed(20, 30, "HTTP 503"), done(30, 50)]
    coverage = coverage_of(KEY, Range(5, 40), entries, newest_ms=45)
    assert coverage.complete == (Range(5, 10), Range(30, 40))
    assert coverage.gaps == (
        Gap(Range(10, 20), GapReason.NOT_FETCHED),
        Gap(Range(20, 30), GapReason.FETCH_FAILED, "HTTP 503"),
    )
    assert coverage.newest_ms == 45


def test_coverage_of_an_empty_ledger_is_one_not_fetched_gap() -> None:
    coverage = coverage_of(KEY, Range(0, 120_000), [], None)
    assert (coverage.complete, coverage.gap_minutes) == ((), 2.0)
