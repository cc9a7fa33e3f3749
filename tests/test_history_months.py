"""Which monthly trades partitions a page needs: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.history.partitions import Month, months_needed


def ms(year: int, month: int, day: int, hour: int = 0) -> int:
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp() * 1000)


NOW = ms(2026, 12, 1, 12)
AHEAD = {Month(2026, 12), Month(2027, 1)}  # this month and the next, always


@pytest.mark.parametrize(
    ("times", "months"),
    [
        ([], set()),
        ([ms(2026, 11, 3), ms(2026, 11, 3, 1)], {Month(2026, 11)}),
        ([ms(2026, 1, 31, 23), ms(2026, 2, 1)], {Month(2026, 1), Month(2026, 2)}),
        # unordered, and every month between the oldest and the newest time
        ([ms(2026, 5, 2), ms(2026, 2, 9)], {Month(2026, m) for m in (2, 3, 4, 5)}),
        ([ms(2025, 12, 31, 23), ms(2026, 1, 1)], {Month(2025, 12), Month(2026, 1)}),
    ],
    ids=["empty page", "one month", "month boundary", "unordered span", "year boundary"],
)
def test_a_page_needs_the_months_of_its_oldest_and_newest_times_and_all_between(
    times: list[int], months: set[Month]
) -> None:
    assert months_needed(iter(times), NOW) == months | AHEAD
