"""Why ``symbols add --wait`` says a symbol has not ticked: pure reads of one observation."""

from __future__ import annotations

import pytest

from service.beat.status import PassKind, PassOutcome, PassStatus
from service.cli.wait import Observation, Target, why_not
from service.db.skipped import SkippedRow, Table
from service.settings import Settings

TARGET = Target(exchange="bin", symbols=("SOL/USDT",), since_ms=1_000)


def skipped(table: Table, name: str, column: str, error: str) -> tuple[SkippedRow, ...]:
    return (SkippedRow.of(table, name, column, error, exchange="bin"),)


def reconcile(
    at: int = 2_000, *, error: str | None = None, skipped: tuple[SkippedRow, ...] = ()
) -> PassStatus:
    outcome = PassOutcome.ERROR if error else PassOutcome.OK
    return PassStatus(
        PassKind.RECONCILE, at, 1.0, outcome, "beat-1", error=error, skipped_rows=skipped
    )


def observation(*, beat_running: bool = True, status: PassStatus | None = None) -> Observation:
    return Observation(
        ticked=frozenset(), specs={}, jobs={}, beat_running=beat_running, reconcile=status
    )


@pytest.mark.parametrize(
    ("view", "says"),
    [
        (observation(beat_running=False), "no beat is running"),
        (observation(status=None), "the beat has not reconciled since the edit"),
        (observation(status=reconcile(at=500)), "the beat has not reconciled since the edit"),
        (observation(status=reconcile(error="db away")), "last reconcile failed: db away"),
        (
            observation(
                status=reconcile(skipped=skipped(Table.EXCHANGES, "bin", "ccxt_params", "not JSON"))
            ),
            "the beat skipped exchanges 'bin': not JSON",
        ),
        (
            observation(
                status=reconcile(skipped=skipped(Table.SYMBOLS, "SOL/USDT", "symbol", "unlisted"))
            ),
            "the beat skipped symbols 'bin' 'SOL/USDT': unlisted",
        ),
        (
            observation(
                status=reconcile(skipped=skipped(Table.SYMBOLS, "ETH/USDT", "symbol", "unlisted"))
            ),
            "the beat did not make it desired (is exchange bin enabled",
        ),
    ],
    ids=[
        "no-beat",
        "no-reconcile",
        "reconcile-before-edit",
        "reconcile-failed",
        "exchange-row-skipped",
        "symbol-row-skipped",
        "another-symbol-skipped",
    ],
)
def test_a_symbol_that_is_not_desired_gets_the_reason_an_operator_can_act_on(
    view: Observation, says: str
) -> None:
    assert says in why_not(view, TARGET, "SOL/USDT", Settings())
