"""Deriving health from heartbeats and the clock: pure functions, no Redis.

A job record is a heartbeat dict (``workers.heartbeat.Heartbeat.to_dict()``)
plus what the registry adds: ``run_started_at`` (ms, first heartbeat of this
run) and ``recorded_at`` (ms). Rules, in order of precedence, for a desired job:

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
from types import MappingProxyType
from typing import Any

from service.beat.status import PassKind, PassOutcome
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
from service.settings import Settings
from workers.states import JobState

# A heartbeat missed this many times over means the job is gone.
MISSED_HEARTBEATS = 3
# A beat pass older than max(factor x interval, interval + slack) is late.
BEAT_LATE_FACTOR = 3
BEAT_LATE_SLACK_S = 30.0

Record = Mapping[str, Any]

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


def age_s(now_ms: int, at_ms: Any) -> float | None:
    """Seconds from ``at_ms`` to ``now_ms`` (never negative: clocks drift), None if unknown."""
    if not isinstance(at_ms, int | float) or isinstance(at_ms, bool):
        return None
    return max(0.0, (now_ms - at_ms) / 1000)


def heartbeat_limit_s(settings: Settings) -> float:
    """A heartbeat older than this many seconds means the job is down."""
    return MISSED_HEARTBEATS * settings.heartbeat_interval_s


def classify(record: Record | None, now_ms: int, settings: Settings) -> tuple[HealthState, str]:
    """The (state, reason) of a desired job; reason is empty when up."""
    if record is None:
        return HealthState.DOWN, "no heartbeat received"
    reported = JobState(record["state"])
    if reported in FINAL_STATES:
        return HEALTH_OF_REPORTED[reported], _final_reason(record, reported)
    hb_age = age_s(now_ms, record.get("sent_at"))
    if hb_age is None or hb_age > heartbeat_limit_s(settings):
        return HealthState.DOWN, f"no heartbeat for {_secs(hb_age)}"
    if HEALTH_OF_REPORTED[reported] != HealthState.UP:
        return HEALTH_OF_REPORTED[reported], f"job reported {reported}"
    quiet = _quiet_for_s(record, now_ms)
    if record.get("symbols") and quiet is not None and quiet > settings.stale_after_s:
        return HealthState.STALE, f"no tick for {_secs(quiet)}"
    return HealthState.UP, ""


def _final_reason(record: Record, reported: JobState) -> str:
    if reported == JobState.FAILED:
        return str(record.get("last_error") or "job reported failed")
    return "job stopped while still desired"


def _quiet_for_s(record: Record, now_ms: int) -> float | None:
    # A run that never ticked has been quiet since it started.
    since = record.get("last_tick_at")
    if since is None:
        since = record.get("run_started_at")
    return age_s(now_ms, since)


def symbol_ages(record: Record, now_ms: int) -> dict[str, float | None]:
    """Per subscribed symbol, seconds since its last tick (None: never ticked)."""
    last = record.get("symbol_last_tick_at") or {}
    return {symbol: age_s(now_ms, last.get(symbol)) for symbol in record.get("symbols") or ()}


def stale_symbols(record: Record, now_ms: int, settings: Settings) -> tuple[str, ...]:
    """Subscribed symbols without a tick for more than STALE_AFTER_S."""
    run_age = age_s(now_ms, record.get("run_started_at"))
    stale = []
    for symbol, age in symbol_ages(record, now_ms).items():
        quiet = age if age is not None else run_age
        if quiet is not None and quiet > settings.stale_after_s:
            stale.append(symbol)
    return tuple(stale)


def derive_job(
    job_key: str,
    record: Record | None,
    *,
    desired: bool,
    now_ms: int,
    settings: Settings,
    desired_symbols: Sequence[str] = (),
) -> JobHealth:
    """The health of one job; an undesired job's state is ``undesired``."""
    health, reason = classify(record, now_ms, settings)
    state: ShownState = health if desired else UNDESIRED
    base = JobHealth(job_key=job_key, exchange=job_key.split("#")[0], state=state, reason=reason)
    if record is None:
        return _replace(base, desired=desired, symbols=tuple(desired_symbols))
    return _replace(base, desired=desired, **_record_fields(record, now_ms, settings))


def _record_fields(record: Record, now_ms: int, settings: Settings) -> dict[str, Any]:
    return {
        "exchange": str(record.get("exchange") or ""),
        "heartbeat_state": record.get("state"),
        "heartbeat_age_s": age_s(now_ms, record.get("sent_at")),
        "worker_id": record.get("worker_id"),
        "host": record.get("host"),
        "pid": record.get("pid"),
        "symbols": tuple(record.get("symbols") or ()),
        "invalid_symbols": tuple(record.get("invalid_symbols") or ()),
        "stale_symbols": stale_symbols(record, now_ms, settings),
        "symbol_ages_s": symbol_ages(record, now_ms),
        "ticks_total": int(record.get("ticks_total") or 0),
        "ticks_per_s": float(record.get("ticks_per_s") or 0.0),
        "last_tick_age_s": age_s(now_ms, record.get("last_tick_at")),
        "reconnects": int(record.get("reconnects") or 0),
        "consecutive_failures": int(record.get("consecutive_failures") or 0),
        "last_error": record.get("last_error"),
        "latency_p50_ms": record.get("latency_p50_ms"),
        "latency_p99_ms": record.get("latency_p99_ms"),
        "generation": int(record.get("generation") or 0),
    }


def _replace(job: JobHealth, **changes: Any) -> JobHealth:
    if not changes.get("exchange"):
        changes["exchange"] = job.exchange
    return JobHealth(**{**job.__dict__, **changes})


def derive_worker(record: Record, now_ms: int, settings: Settings) -> WorkerHealth:
    """A worker record as shown; alive when seen within the heartbeat limit."""
    seen_age = age_s(now_ms, record.get("last_seen_at"))
    return WorkerHealth(
        worker_id=str(record.get("worker_id")),
        host=record.get("host"),
        pid=record.get("pid"),
        jobs=tuple(sorted(record.get("jobs") or ())),
        last_seen_at=record.get("last_seen_at"),
        last_seen_age_s=seen_age,
        alive=seen_age is not None and seen_age <= heartbeat_limit_s(settings),
    )


def derive_pass(kind: PassKind, data: Record | None, now_ms: int, every_s: float) -> PassHealth:
    """One beat pass; late when older than max(3 x interval, interval + 30 s)."""
    if not data:
        return PassHealth(kind=kind, expected_every_s=every_s)
    pass_age = age_s(now_ms, data.get("at"))
    limit = max(BEAT_LATE_FACTOR * every_s, every_s + BEAT_LATE_SLACK_S)
    return PassHealth(
        kind=kind,
        expected_every_s=every_s,
        at=data.get("at"),
        age_s=pass_age,
        duration_ms=data.get("duration_ms"),
        outcome=data.get("outcome"),
        error=data.get("error"),
        jobs=data.get("jobs"),
        enqueued=data.get("enqueued"),
        skipped_rows=tuple(data.get("skipped_rows") or ()),
        beat_id=data.get("beat_id"),
        late=pass_age is None or pass_age > limit,
    )


def derive_beat(passes: Mapping[str, Record], now_ms: int, settings: Settings) -> BeatHealth:
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
    records: Mapping[str, Record],
    workers: Mapping[str, Record],
    beat: Mapping[str, Record],
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
