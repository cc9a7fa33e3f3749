"""Deriving health from heartbeats and the clock: pure functions, no Redis.

A job record (``service.health.records.JobRecord``) is a job's latest
``Heartbeat`` plus what the registry adds: ``run_started_at`` (ms, first
heartbeat of this run) and ``recorded_at`` (ms). Rules, in order of
precedence, for a desired job:

- no record                                  -> down ("no heartbeat received")
- heartbeat state ``failed``                 -> failed (its last error)
- heartbeat state ``stopped``                -> down (it stopped while still desired)
- heartbeat older than 3 x HEARTBEAT_INTERVAL_S -> down
- heartbeat state ``stale``, or symbols subscribed and no tick for more than
  STALE_AFTER_S (since the last tick, or since the run started when it never
  ticked)                                    -> stale
- otherwise                                  -> up

So health ``failed`` is exactly "the job reported ``JobState.FAILED``", and
health ``stale`` is "the job reported ``JobState.STALE``, or it has symbols
and no tick for STALE_AFTER_S": the same words mean the same things.
``HEALTH_OF_REPORTED`` is that mapping, and ``classify`` decides by it.

"Older than" is strict everywhere (as in ``TickReader``): an age equal to the
limit is still fresh. Ages are measured against ``now``, not the heartbeat's
``sent_at``, so the "last tick age" column and the state always agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from types import MappingProxyType

from service.beat.status import PassKind, PassOutcome, PassStatus
from service.health.model import (
    UNDESIRED,
    BeatHealth,
    HealthState,
    JobHealth,
    PassHealth,
    ShownState,
    Status,
    WorkerHealth,
)
from service.health.records import JobRecord, WorkerRecord
from service.settings import Settings
from workers.heartbeat import Heartbeat
from workers.states import JobState

# A heartbeat missed this many times over means the job is gone.
MISSED_HEARTBEATS = 3
# A beat pass older than max(factor x interval, interval + slack) is late.
BEAT_LATE_FACTOR = 3
BEAT_LATE_SLACK_S = 30.0

# The health each state a job reports yields while its heartbeat is fresh and,
# for UP, while it ticks. FAILED and STOPPED are final (no later heartbeat of
# that run will say otherwise), so they hold however old the heartbeat is.
HEALTH_OF_REPORTED: Mapping[JobState, HealthState] = MappingProxyType(
    {
        JobState.STARTING: HealthState.UP,
        JobState.STREAMING: HealthState.UP,
        JobState.RECONNECTING: HealthState.UP,
        JobState.STALE: HealthState.STALE,
        JobState.FAILED: HealthState.FAILED,
        JobState.STOPPED: HealthState.DOWN,
    }
)
FINAL_STATES = frozenset({JobState.FAILED, JobState.STOPPED})

# The fields a JobHealth shows exactly as the job's heartbeat sent them.
AS_SENT = (
    "worker_id",
    "host",
    "pid",
    "ticks_total",
    "ticks_per_s",
    "reconnects",
    "consecutive_failures",
    "last_error",
    "latency_p50_ms",
    "latency_p99_ms",
    "generation",
)


def age_s(now_ms: int, at_ms: float | None) -> float | None:
    """Seconds from ``at_ms`` to ``now_ms`` (never negative: clocks drift), None if unknown."""
    # A heartbeat's optional fields are not validated: a non-number is "unknown".
    if not isinstance(at_ms, int | float) or isinstance(at_ms, bool):
        return None
    return max(0.0, (now_ms - at_ms) / 1000)


def heartbeat_limit_s(settings: Settings) -> float:
    """A heartbeat older than this many seconds means the job is down."""
    return MISSED_HEARTBEATS * settings.heartbeat_interval_s


def classify(record: JobRecord | None, now_ms: int, settings: Settings) -> tuple[HealthState, str]:
    """The (state, reason) of a desired job; reason is empty when up."""
    if record is None:
        return HealthState.DOWN, "no heartbeat received"
    beat = record.heartbeat
    if beat.state in FINAL_STATES:
        return HEALTH_OF_REPORTED[beat.state], _final_reason(beat)
    hb_age = age_s(now_ms, beat.sent_at)
    if hb_age is None or hb_age > heartbeat_limit_s(settings):
        return HealthState.DOWN, f"no heartbeat for {_secs(hb_age)}"
    if HEALTH_OF_REPORTED[beat.state] != HealthState.UP:
        return HEALTH_OF_REPORTED[beat.state], f"job reported {beat.state}"
    quiet = _quiet_for_s(record, now_ms)
    if beat.symbols and quiet is not None and quiet > settings.stale_after_s:
        return HealthState.STALE, f"no tick for {_secs(quiet)}"
    return HealthState.UP, ""


def _final_reason(beat: Heartbeat) -> str:
    if beat.state == JobState.FAILED:
        return str(beat.last_error or "job reported failed")
    return "job stopped while still desired"


def _quiet_for_s(record: JobRecord, now_ms: int) -> float | None:
    # A run that never ticked has been quiet since it started.
    since = record.heartbeat.last_tick_at
    return age_s(now_ms, since if since is not None else record.run_started_at)


def symbol_ages(record: JobRecord, now_ms: int) -> dict[str, float | None]:
    """Per subscribed symbol, seconds since its last tick (None: never ticked)."""
    last = record.heartbeat.symbol_last_tick_at
    return {symbol: age_s(now_ms, last.get(symbol)) for symbol in record.heartbeat.symbols}


def stale_symbols(record: JobRecord, now_ms: int, settings: Settings) -> tuple[str, ...]:
    """Subscribed symbols without a tick for more than STALE_AFTER_S."""
    run_age = age_s(now_ms, record.run_started_at)
    stale = []
    for symbol, age in symbol_ages(record, now_ms).items():
        quiet = age if age is not None else run_age
        if quiet is not None and quiet > settings.stale_after_s:
            stale.append(symbol)
    return tuple(stale)


def derive_job(
    job_key: str,
    record: JobRecord | None,
    *,
    desired: bool,
    now_ms: int,
    settings: Settings,
    desired_symbols: Sequence[str] = (),
) -> JobHealth:
    """The health of one job; an undesired job's state is ``undesired``."""
    health, reason = classify(record, now_ms, settings)
    state: ShownState = health if desired else UNDESIRED
    if record is None:
        exchange = job_key.split("#")[0]
        return JobHealth(
            job_key, exchange, state, reason, desired=desired, symbols=tuple(desired_symbols)
        )
    return _job_of_record(
        JobHealth(job_key, record.heartbeat.exchange or job_key.split("#")[0], state, reason),
        record,
        desired=desired,
        now_ms=now_ms,
        settings=settings,
    )


def _job_of_record(
    base: JobHealth, record: JobRecord, *, desired: bool, now_ms: int, settings: Settings
) -> JobHealth:
    beat = record.heartbeat
    return replace(
        base,
        **{name: getattr(beat, name) for name in AS_SENT},
        desired=desired,
        heartbeat_state=beat.state,
        heartbeat_age_s=age_s(now_ms, beat.sent_at),
        symbols=tuple(beat.symbols),
        invalid_symbols=tuple(beat.invalid_symbols),
        stale_symbols=stale_symbols(record, now_ms, settings),
        symbol_ages_s=symbol_ages(record, now_ms),
        last_tick_age_s=age_s(now_ms, beat.last_tick_at),
    )


def derive_worker(record: WorkerRecord, now_ms: int, settings: Settings) -> WorkerHealth:
    """A worker record as shown; alive when seen within the heartbeat limit."""
    seen_age = age_s(now_ms, record.last_seen_at)
    return WorkerHealth(
        **{**asdict(record), "jobs": tuple(sorted(record.jobs))},
        last_seen_age_s=seen_age,
        alive=seen_age is not None and seen_age <= heartbeat_limit_s(settings),
    )


def derive_pass(
    kind: PassKind, status: PassStatus | None, now_ms: int, every_s: float
) -> PassHealth:
    """One beat pass; late when older than max(3 x interval, interval + 30 s)."""
    if status is None:
        return PassHealth(kind=kind, expected_every_s=every_s)
    pass_age = age_s(now_ms, status.at)
    limit = max(BEAT_LATE_FACTOR * every_s, every_s + BEAT_LATE_SLACK_S)
    return PassHealth(
        kind=kind,
        expected_every_s=every_s,
        at=status.at,
        age_s=pass_age,
        duration_ms=status.duration_ms,
        outcome=status.outcome,
        error=status.error,
        jobs=status.jobs,
        enqueued=status.enqueued,
        skipped_rows=tuple(status.skipped_rows),
        beat_id=status.beat_id,
        late=pass_age is None or pass_age > limit,
    )


def derive_beat(passes: Mapping[str, PassStatus], now_ms: int, settings: Settings) -> BeatHealth:
    """The beat's two pass kinds and, in words, what is wrong with them."""
    every = {
        PassKind.RECONCILE: settings.reconcile_interval_s,
        PassKind.SUPERVISE: settings.supervise_interval_s,
    }
    reconcile, supervise = (
        derive_pass(kind, passes.get(kind), now_ms, every_s) for kind, every_s in every.items()
    )
    problems = [problem for p in (reconcile, supervise) if (problem := _pass_problem(p))]
    return BeatHealth(reconcile=reconcile, supervise=supervise, problems=tuple(problems))


def _pass_problem(p: PassHealth) -> str:
    if p.at is None:
        return f"no {p.kind} pass recorded"
    if p.late:
        return f"last {p.kind} pass {_secs(p.age_s)} ago (expected every {p.expected_every_s:g}s)"
    if p.outcome != PassOutcome.OK:
        return f"last {p.kind} pass {p.outcome}: {p.error or 'no detail'}"
    return ""


def derive_status(
    desired: Mapping[str, Sequence[str]],
    records: Mapping[str, JobRecord],
    workers: Mapping[str, WorkerRecord],
    beat: Mapping[str, PassStatus],
    *,
    now_ms: int,
    settings: Settings,
) -> Status:
    """The whole status from desired jobs (job key -> desired symbols) and the registry."""
    jobs = tuple(
        derive_job(
            key,
            records.get(key),
            desired=True,
            now_ms=now_ms,
            settings=settings,
            desired_symbols=desired[key],
        )
        for key in sorted(desired)
    )
    undesired = tuple(
        derive_job(key, records[key], desired=False, now_ms=now_ms, settings=settings)
        for key in sorted(set(records) - set(desired))
    )
    return Status(
        at=now_ms,
        jobs=jobs,
        undesired=undesired,
        workers=tuple(derive_worker(workers[w], now_ms, settings) for w in sorted(workers)),
        beat=derive_beat(beat, now_ms, settings),
    )


def _secs(value: float | None) -> str:
    return "an unknown time" if value is None else f"{value:.0f}s"
