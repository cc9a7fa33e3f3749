"""The status object: what ``ticker-service status``, ``/healthz`` and ``/metrics`` show.

Plain frozen dataclasses, built by the pure functions of ``service.health.derive``.
Ages are seconds (float), instants UTC epoch milliseconds (int).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

from service.beat.status import PassKind, PassOutcome
from service.db.skipped import SkippedRow
from service.health.records import WorkerRecord
from workers.states import JobState


class HealthState(StrEnum):
    """The derived health of a desired job (``service.health.derive.classify``).

    Every member is counted (``Status.counts``), stored in ``health_states``
    and exported as a metric label; ``STALE`` and ``FAILED`` are the job's own
    ``JobState`` verdicts carried over (``derive.HEALTH_OF_REPORTED``).
    """

    UP = "up"
    STALE = "stale"
    DOWN = "down"
    FAILED = "failed"

    @classmethod
    def stored(cls, raw: str | None) -> HealthState | None:
        """The state stored as ``raw`` in ``health_states``; None if absent or unknown."""
        try:
            return cls(raw) if raw is not None else None
        except ValueError:  # written by a newer or older version: no memory of it
            return None


# A heartbeat of a job the beat no longer wants: shown apart, never counted.
# Not a HealthState: it is no verdict on a job but the absence of a question
# (nobody wants the job), so it is never counted, stored or alerted on.
UNDESIRED: Final = "undesired"
ShownState = HealthState | Literal["undesired"]


@dataclass(frozen=True)
class JobHealth:
    """One job key's derived health; ``reason`` says why it is not up (empty when up).

    ``last_error`` stands next to ``reason``: together they are the why that
    ``status`` shows in one column.
    """

    job_key: str
    exchange: str
    state: ShownState
    reason: str = ""
    last_error: str | None = None
    desired: bool = True
    heartbeat_state: JobState | None = None
    heartbeat_age_s: float | None = None
    worker_id: str | None = None
    host: str | None = None
    pid: int | None = None
    symbols: tuple[str, ...] = ()
    invalid_symbols: tuple[str, ...] = ()
    stale_symbols: tuple[str, ...] = ()
    symbol_ages_s: dict[str, float | None] = field(default_factory=dict)
    ticks_total: int = 0
    ticks_per_s: float = 0.0
    last_tick_age_s: float | None = None
    reconnects: int = 0
    consecutive_failures: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    generation: int = 0


@dataclass(frozen=True, kw_only=True)
class WorkerHealth(WorkerRecord):
    """A worker's stored record as shown: ``alive`` if it was seen recently."""

    last_seen_age_s: float | None
    alive: bool


@dataclass(frozen=True)
class PassHealth:
    """The beat's last pass of one kind (``reconcile`` or ``supervise``)."""

    kind: PassKind
    expected_every_s: float
    at: int | None = None
    age_s: float | None = None
    duration_ms: float | None = None
    outcome: PassOutcome | None = None
    error: str | None = None
    jobs: int | None = None
    enqueued: int | None = None
    skipped_rows: tuple[SkippedRow, ...] = ()
    beat_id: str | None = None
    late: bool = False

    @property
    def ok(self) -> bool:
        return self.at is not None and self.outcome == PassOutcome.OK and not self.late


@dataclass(frozen=True)
class BeatHealth:
    """Both pass kinds; ``problems`` lists, in words, what is wrong with the beat."""

    reconcile: PassHealth
    supervise: PassHealth
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Status:
    """The whole picture at instant ``at``.

    ``healthy`` is True only when at least one job is desired and every desired
    job is up: nothing to stream is not a healthy market-data service.
    """

    at: int
    jobs: tuple[JobHealth, ...]
    undesired: tuple[JobHealth, ...]
    workers: tuple[WorkerHealth, ...]
    beat: BeatHealth

    @property
    def healthy(self) -> bool:
        return bool(self.jobs) and all(job.state == HealthState.UP for job in self.jobs)

    def counts(self) -> dict[str, int]:
        """Desired jobs by state, every state present (zero when none)."""
        counts: dict[str, int] = dict.fromkeys(HealthState, 0)
        for job in self.jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``status --json``, ``/healthz``)."""
        data = asdict(self)
        data["healthy"] = self.healthy
        data["counts"] = self.counts()
        data["beat"]["ok"] = self.beat.ok
        for kind in (PassKind.RECONCILE, PassKind.SUPERVISE):  # the history pass: own section
            data["beat"][kind]["ok"] = getattr(self.beat, kind).ok
        return data
