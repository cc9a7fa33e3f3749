"""The names of a streaming job's states and of the reasons it stops: one home each.

``StrEnum``s (arq's ``JobStatus(str, Enum)``, as Python 3.11 spells it): a
member *is* its text, so heartbeats, JSON and log lines read exactly as the
plain strings did, and a reader can find every use of a state by its name.
"""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    """What a job reports about itself in every heartbeat.

    ``STALE`` and ``FAILED`` are the job's own verdicts (its watchdog found the
    feed quiet; its retries ran out or its config is unusable). The health
    registry's states of the same words are derived from these: see
    ``service.health.derive`` for the mapping.
    """

    STARTING = "starting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STALE = "stale"
    FAILED = "failed"
    STOPPED = "stopped"


class StopReason(StrEnum):
    """Why ``StreamJob.run()`` returned."""

    LEASE_HELD_ELSEWHERE = "lease-held-elsewhere"
    NOT_DESIRED = "not-desired"
    LEASE_LOST = "lease-lost"
    LEASE_EXPIRED = "lease-expired"
    WORKER_STOPPING = "worker-stopping"
    FINISHED = "finished"
