"""One backfill task: fetch a bounded number of pages of one stream's range, page by page.

Each page is written with the ledger advanced in the same transaction
(``HistoryStore.write_page``) as soon as it arrives, so memory holds one page
and a worker killed here loses at most the page in flight. The task first asks
the ledger what of its range is still missing, so a message delivered twice
(a worker died and the broker re-queued it) costs one read, not a refetch.

A page that fails stops the task: what is still missing of its gap (from the
failed page to the gap's end, or on OKX trades, which page backwards, from the
gap's start to the failed page) is recorded as a ``FETCH_FAILED`` gap with the
error, so it stays visible in ``coverage`` and ``/metrics`` until a later task
fills it; nothing is ever skipped. The caller decides when to try again (``retry.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ccxt

from service.errors import StoreError
from service.history.budget import BudgetWaitTooLong
from service.history.fetch import (
    BACKWARD_EXCHANGES,
    FROM_ID_EXCHANGES,
    ChainBroken,
    Cursor,
    NoProgress,
    Page,
    PagingNotSupported,
    candles_page,
    page_limit,
    trades_page,
    trades_page_backwards,
)
from service.history.records import (
    Candle,
    Coverage,
    Gap,
    GapReason,
    Range,
    Stream,
    StreamKey,
    Trade,
)
from service.logs import get_logger, redact_text

log = get_logger(__name__)

# What a page may fail with and be retried later; a database error fails the task instead.
FETCH_ERRORS = (
    ccxt.BaseError,
    ChainBroken,
    NoProgress,
    PagingNotSupported,
    BudgetWaitTooLong,
    StoreError,
)
ERROR_CHARS = 500


class PageStore(Protocol):
    """What the backfill needs of ``HistoryStore`` (service/history/store.py)."""

    def write_page(
        self, key: StreamKey, rows: Sequence[Candle] | Sequence[Trade], covered: Range
    ) -> int: ...
    def record_gap(self, key: StreamKey, gap: Gap) -> None: ...
    def coverage(self, key: StreamKey, wanted: Range) -> Coverage: ...


@dataclass(frozen=True)
class TaskOutcome:
    """What one task did: pages and rows written; ``complete`` when its range has no gap left."""

    pages: int
    rows: int
    complete: bool
    error: str | None = None


@dataclass(frozen=True)
class Fetcher:
    """Fetches pages of one stream through a (budget-gated) ccxt client."""

    client: Any
    ccxt_id: str
    key: StreamKey
    # The page size; None: the largest the exchange allows. A short page means "no
    # more", so this must never exceed what the exchange really answers.
    limit: int | None = None

    @property
    def backwards(self) -> bool:
        """Pages run from the end of a gap to its start (OKX trades)."""
        return self.key.stream == Stream.TRADES and self.ccxt_id in BACKWARD_EXCHANGES

    def first(self, gap: Range) -> Cursor:
        """Where the first page of ``gap`` starts."""
        return Cursor(gap.end_ms) if self.backwards else Cursor(gap.start_ms)

    def missing(self, cursor: Cursor, gap: Range) -> Range:
        """What of ``gap`` is still missing when the next page starts at ``cursor``."""
        if self.backwards:
            return Range(gap.start_ms, cursor.at_ms)
        return Range(cursor.at_ms, gap.end_ms)

    def page(self, cursor: Cursor, gap: Range) -> Page:
        limit = self.limit or page_limit(self.ccxt_id, self.key.stream)
        symbol = self.key.symbol
        if self.key.stream == Stream.CANDLES:
            return candles_page(self.client, symbol, cursor, gap.end_ms, limit)
        if self.backwards:
            return trades_page_backwards(self.client, symbol, cursor, gap.start_ms, limit)
        if self.ccxt_id not in FROM_ID_EXCHANGES:
            raise PagingNotSupported(f"{self.ccxt_id}: trades backfill pages Binance and OKX only")
        return trades_page(self.client, symbol, cursor, gap.end_ms, limit)


def run_task(
    fetcher: Fetcher,
    store: PageStore,
    window: Range,
    *,
    max_pages: int,
    on_page: Callable[[], None] = lambda: None,
) -> TaskOutcome:
    """Fill the gaps of ``window`` with at most ``max_pages`` pages; returns what was done.

    ``on_page`` runs after every written page (the caller renews its claim there).
    Raises DatabaseError when the store fails (the task is then retried whole).
    """
    coverage = store.coverage(fetcher.key, window)
    done = TaskOutcome(pages=0, rows=0, complete=True)
    for gap in coverage.gaps:
        done = _fill(fetcher, store, gap.range, done, max_pages, on_page)
        if not done.complete:
            break
    return done


def _fill(
    fetcher: Fetcher,
    store: PageStore,
    gap: Range,
    done: TaskOutcome,
    max_pages: int,
    on_page: Callable[[], None],
) -> TaskOutcome:
    pages, rows = done.pages, done.rows
    cursor: Cursor | None = fetcher.first(gap)
    while cursor is not None:
        if pages >= max_pages:
            return TaskOutcome(pages, rows, complete=False)  # the beat plans the rest
        try:
            page = fetcher.page(cursor, gap)
        except FETCH_ERRORS as exc:
            error = describe(exc)
            failed = Gap(fetcher.missing(cursor, gap), GapReason.FETCH_FAILED, error)
            store.record_gap(fetcher.key, failed)
            log.warning(
                "history page failed", stream=str(fetcher.key), at=cursor.at_ms, error=error
            )
            return TaskOutcome(pages, rows, complete=False, error=error)
        rows += store.write_page(fetcher.key, page.rows, page.covered)
        pages += 1
        on_page()
        cursor = page.next
    return TaskOutcome(pages, rows, complete=True)


def describe(exc: Exception) -> str:
    """The error as the ledger keeps it: its type and message, no secret, bounded."""
    return redact_text(f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]
