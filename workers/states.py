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
    WORKER_STOPPING = "worker-stopping"
    FINISHED = "finished"


class SpecMissing(StrEnum):
    """Why a job found no desired spec under its key.

    ``REMOVED``: the beat took the key out (the desired-state marker is there):
    the job stops. ``STATE_LOST``: the marker is gone too, so Redis lost the
    whole desired state (restarted empty): the job keeps streaming its last
    spec until the beat restores it.
    """

    REMOVED = "removed"
    STATE_LOST = "state-lost"


class LeaseHold(StrEnum):
    """What renewing a lease found: ours (``RENEWED``), gone and taken back
    (``RETAKEN``: Redis lost it, or the job stalled past its ttl and nobody took
    it meanwhile), or another run's (``LOST``)."""

    RENEWED = "renewed"
    RETAKEN = "retaken"
    LOST = "lost"
