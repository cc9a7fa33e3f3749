"""The pure derivation of health: tables of heartbeats, clocks and expected states."""

from __future__ import annotations

from typing import Any

import pytest

from service.beat.status import PassStatus
from service.health.derive import (
    HEALTH_OF_REPORTED,
    classify,
    derive_beat,
    derive_job,
    derive_status,
    stale_symbols,
)
from service.health.model import UNDESIRED, HealthState
from service.health.records import JobRecord, WorkerRecord
from service.settings import Settings
from workers.states import JobState

UP, STALE, DOWN, FAILED = HealthState.UP, HealthState.STALE, HealthState.DOWN, HealthState.FAILED

NOW = 1_700_000_000_000
SETTINGS = Settings(heartbeat_interval_s=5.0, stale_after_s=30.0)
# The beat table's boundaries (35/36 s late) are for a 5 s supervision interval, not the default.
BEAT_SETTINGS = Settings(reconcile_interval_s=300.0, supervise_interval_s=5.0)


def record(**changes: Any) -> JobRecord:
    """A heartbeat record of a healthy job sent one second ago."""
    base: dict[str, Any] = {
        "job_key": "binance",
        "exchange": "binance",
        "worker_id": "w1",
        "host": "h1",
        "pid": 11,
        "state": "streaming",
        "sent_at": NOW - 1_000,
        "symbols": ["BTC/USDT", "ETH/USDT"],
        "ticks_total": 500,
        "ticks_per_s": 12.5,
        "last_tick_at": NOW - 500,
        "symbol_last_tick_at": {"BTC/USDT": NOW - 500, "ETH/USDT": NOW - 2_000},
        "run_started_at": NOW - 60_000,
        "recorded_at": NOW - 1_000,
    }
    return JobRecord.from_dict({**base, **changes})


@pytest.mark.parametrize(
    ("rec", "expected"),
    [
        pytest.param(None, DOWN, id="no heartbeat at all"),
        pytest.param(record(), UP, id="fresh heartbeat and fresh ticks"),
        pytest.param(record(sent_at=NOW - 15_000), UP, id="heartbeat exactly 3 intervals old"),
        pytest.param(record(sent_at=NOW - 15_001), DOWN, id="heartbeat just over 3 intervals"),
        pytest.param(record(state="stopped"), DOWN, id="stopped while still desired"),
        pytest.param(record(state="failed", last_error="boom"), FAILED, id="reported failed"),
        pytest.param(
            record(state="failed", sent_at=NOW - 999_000),
            FAILED,
            id="failed beats an old heartbeat",
        ),
        pytest.param(record(state="stale"), STALE, id="job reports itself stale"),
        pytest.param(record(last_tick_at=NOW - 30_000), UP, id="last tick exactly STALE_AFTER_S"),
        pytest.param(record(last_tick_at=NOW - 30_001), STALE, id="last tick just over"),
        pytest.param(
            record(last_tick_at=None, run_started_at=NOW - 31_000),
            STALE,
            id="never ticked since a run started long ago",
        ),
        pytest.param(
            record(last_tick_at=None, run_started_at=NOW - 5_000, state="starting"),
            UP,
            id="just started and not ticked yet",
        ),
        pytest.param(record(symbols=[], last_tick_at=NOW - 99_000), UP, id="no symbols subscribed"),
        pytest.param(record(state="reconnecting"), UP, id="reconnecting with fresh ticks"),
    ],
)
def test_a_desired_job_is_classified_from_its_heartbeat_and_the_clock(
    rec: JobRecord | None, expected: str
) -> None:
    state, reason = classify(rec, NOW, SETTINGS)
    assert state == expected
    assert (reason == "") == (expected == UP)


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        (JobState.STARTING, HealthState.UP),
        (JobState.STREAMING, HealthState.UP),
        (JobState.RECONNECTING, HealthState.UP),
        (JobState.STALE, HealthState.STALE),
        (JobState.FAILED, HealthState.FAILED),
        (JobState.STOPPED, HealthState.DOWN),
    ],
)
def test_each_state_a_job_reports_yields_one_health_state(
    reported: JobState, expected: HealthState
) -> None:
    # A fresh heartbeat of a ticking job: only the reported state decides.
    assert classify(record(state=reported), NOW, SETTINGS)[0] == expected
    assert HEALTH_OF_REPORTED[reported] == expected


def test_every_job_state_has_a_health_state() -> None:
    assert set(HEALTH_OF_REPORTED) == set(JobState)


def test_a_failed_job_shows_its_last_error_as_the_reason() -> None:
    assert classify(record(state="failed", last_error="auth denied"), NOW, SETTINGS) == (
        FAILED,
        "auth denied",
    )


def test_stale_symbols_are_those_quiet_for_longer_than_stale_after() -> None:
    rec = record(
        symbols=["A/B", "C/D", "E/F"],
        symbol_last_tick_at={"A/B": NOW - 1_000, "C/D": NOW - 45_000},
        run_started_at=NOW - 40_000,
    )
    # E/F never ticked in a 40 s old run: stale as well.
    assert stale_symbols(rec, NOW, SETTINGS) == ("C/D", "E/F")


def test_a_job_shows_per_symbol_tick_ages_and_its_worker() -> None:
    job = derive_job("binance", record(), desired=True, now_ms=NOW, settings=SETTINGS)
    assert job.state == UP
    assert job.symbol_ages_s == {"BTC/USDT": 0.5, "ETH/USDT": 2.0}
    assert (job.worker_id, job.host, job.pid, job.heartbeat_age_s) == ("w1", "h1", 11, 1.0)


def test_a_desired_job_without_heartbeat_is_down_with_its_desired_symbols() -> None:
    job = derive_job(
        "kraken#1", None, desired=True, now_ms=NOW, settings=SETTINGS, desired_symbols=["X/Y"]
    )
    assert (job.state, job.exchange, job.symbols) == (DOWN, "kraken", ("X/Y",))


def test_heartbeats_of_undesired_jobs_are_shown_apart_and_not_counted() -> None:
    status = derive_status(
        {"binance": ["BTC/USDT"]},
        {"binance": record(), "old": record(job_key="old", state="stopped")},
        {},
        {},
        now_ms=NOW,
        settings=SETTINGS,
    )
    assert [job.job_key for job in status.jobs] == ["binance"]
    assert [(job.job_key, job.state) for job in status.undesired] == [("old", UNDESIRED)]
    assert status.healthy
    assert status.counts() == {UP: 1, STALE: 0, DOWN: 0, FAILED: 0}


@pytest.mark.parametrize(
    ("desired", "records", "healthy"),
    [
        pytest.param({}, {}, False, id="nothing desired is not healthy"),
        pytest.param({"a": []}, {"a": record()}, True, id="every desired job up"),
        pytest.param({"a": [], "b": []}, {"a": record()}, False, id="one desired job down"),
    ],
)
def test_the_status_is_healthy_only_when_every_desired_job_is_up(
    desired: dict[str, list[str]], records: dict[str, JobRecord], healthy: bool
) -> None:
    status = derive_status(desired, records, {}, {}, now_ms=NOW, settings=SETTINGS)
    assert status.healthy is healthy


def decoded(passes: dict[str, dict[str, Any]]) -> dict[str, PassStatus]:
    return {kind: PassStatus.from_dict(kind, data) for kind, data in passes.items()}


def beat_pass(age_s: float, **changes: Any) -> dict[str, Any]:
    base = {"at": NOW - int(age_s * 1000), "duration_ms": 12.0, "outcome": "ok", "error": None}
    return {**base, "jobs": 2, "enqueued": 0, "skipped_rows": [], "beat_id": "b1", **changes}


@pytest.mark.parametrize(
    ("passes", "problems"),
    [
        pytest.param(
            {"reconcile": beat_pass(10), "supervise": beat_pass(1)}, [], id="both recent and ok"
        ),
        pytest.param(
            {},
            ["no reconcile pass recorded", "no supervise pass recorded"],
            id="beat never ran",
        ),
        pytest.param(
            {"reconcile": beat_pass(900), "supervise": beat_pass(35)},
            [],
            id="exactly at the late limits",
        ),
        pytest.param(
            {"reconcile": beat_pass(901), "supervise": beat_pass(36)},
            [
                "last reconcile pass 901s ago (expected every 300s)",
                "last supervise pass 36s ago (expected every 5s)",
            ],
            id="both late",
        ),
        pytest.param(
            {
                "reconcile": beat_pass(5, outcome="error", error="db away"),
                "supervise": beat_pass(1),
            },
            ["last reconcile pass error: db away"],
            id="reconcile failed",
        ),
    ],
)
def test_the_beat_is_flagged_when_a_pass_is_missing_late_or_failed(
    passes: dict[str, Any], problems: list[str]
) -> None:
    beat = derive_beat(decoded(passes), NOW, BEAT_SETTINGS)
    assert list(beat.problems) == problems
    assert beat.ok is (not problems)


def test_the_status_dict_carries_health_counts_and_beat_verdicts() -> None:
    status = derive_status(
        {"a": []},
        {"a": record(state="failed", last_error="x")},
        {"w1": WorkerRecord("w1", host="h", pid=1, jobs=("a",), last_seen_at=NOW)},
        decoded({"reconcile": beat_pass(1), "supervise": beat_pass(1)}),
        now_ms=NOW,
        settings=SETTINGS,
    )
    data = status.to_dict()
    assert data["healthy"] is False
    assert data["counts"][FAILED] == 1
    assert data["jobs"][0]["reason"] == "x"
    assert data["workers"][0]["alive"] is True
    assert data["beat"]["ok"] is True and data["beat"]["reconcile"]["ok"] is True
