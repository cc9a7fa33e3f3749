"""Monthly range partitions of ``trades`` on Postgres: created ahead of need, dropped for retention.

A partition holds one UTC calendar month, ``[first ms of the month, first ms
of the next)``, and is named ``trades_pYYYYMM`` in the schema of ``trades``
(the connection's search path, so a test's schema holds its own). Every write
first makes sure the months of its rows and the month after the current one
exist, in a short transaction of its own: creating a partition locks the
parent table, which must not be held for a whole page. Retention drops whole
months only (``DROP TABLE``: no row-by-row delete, no bloat).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, text

PARENT = "trades"
NAME = re.compile(r"trades_p(\d{4})(\d{2})")


@dataclass(frozen=True, order=True)
class Month:
    """One UTC calendar month."""

    year: int
    month: int

    @classmethod
    def of(cls, ms: int) -> Month:
        moment = datetime.fromtimestamp(ms / 1000, UTC)
        return cls(moment.year, moment.month)

    @property
    def start_ms(self) -> int:
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp() * 1000)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def end_ms(self) -> int:
        return self.next.start_ms

    @property
    def table(self) -> str:
        return f"{PARENT}_p{self.year:04d}{self.month:02d}"


def months_needed(times_ms: Iterable[int], now_ms: int) -> set[Month]:
    """The months of ``times_ms``, plus this month and the next (created ahead of need).

    Only the oldest and newest time are turned into months (every month between
    them is included): a page of 1,000 trades spans minutes, and a datetime per
    row cost about 8% of a page write (bench/history.py).
    """
    now = Month.of(now_ms)
    needed = {now, now.next}
    oldest = newest = None
    for ms in times_ms:
        oldest = ms if oldest is None or ms < oldest else oldest
        newest = ms if newest is None or ms > newest else newest
    if oldest is None or newest is None:
        return needed
    month = Month.of(oldest)
    while month.start_ms <= newest:
        needed.add(month)
        month = month.next
    return needed


class Partitions:
    """Partitions of one database's ``trades``; remembers which months it saw exist."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.known: set[Month] = set()

    def ensure(self, months: Iterable[Month]) -> None:
        """Create the missing partitions among ``months`` (one short transaction; idempotent)."""
        missing = set(months) - self.known
        if not missing:
            return
        with self.engine.begin() as connection:
            # One creator at a time per schema: IF NOT EXISTS alone races in the catalog.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.trades parts'))")
            )
            existing = set(self._existing(connection))
            for month in sorted(missing - existing):
                connection.execute(
                    text(
                        f"CREATE TABLE IF NOT EXISTS {month.table} PARTITION OF {PARENT} "
                        f"FOR VALUES FROM ({month.start_ms}) TO ({month.end_ms})"
                    )
                )
        self.known |= missing

    def existing(self) -> list[Month]:
        """The months that have a partition, oldest first."""
        with self.engine.connect() as connection:
            return sorted(self._existing(connection))

    def drop_before(self, cutoff_ms: int) -> list[Month]:
        """Drop every partition whose whole month ends at or before ``cutoff_ms``; their months."""
        with self.engine.begin() as connection:
            old = [m for m in sorted(self._existing(connection)) if m.end_ms <= cutoff_ms]
            for month in old:
                connection.execute(text(f"DROP TABLE {month.table}"))
        self.known -= set(old)
        return old

    def _existing(self, connection: Connection) -> list[Month]:
        query = text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:parent AS regclass)"
        )
        names = connection.execute(query, {"parent": PARENT}).scalars()
        matches = (NAME.fullmatch(name) for name in names)
        return [Month(int(m.group(1)), int(m.group(2))) for m in matches if m]
