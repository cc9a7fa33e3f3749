"""Health transitions and the one log line each of them gets.

A job that turns stale, down or failed logs one warning; one that comes back
logs one info. Callers log only after they won the atomic write of the new
state in ``health_states``, so two processes never log the same transition.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.health.model import HealthState
from service.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class Transition:
    """A job's derived state changed from ``old`` (None: never recorded) to ``new``."""

    job_key: str
    old: HealthState | None
    new: HealthState
    reason: str = ""


def log_transition(transition: Transition) -> None:
    """Log the transition: warning when it turns bad, info when it is (back) up."""
    fields = {"job": transition.job_key, "state": transition.new, "previous": transition.old}
    if transition.new == HealthState.UP:
        event = "job up" if transition.old is None else "job recovered"
        log.info(event, **fields)
    elif transition.old is None and transition.new == HealthState.DOWN:
        # A job seen for the first time without a heartbeat is usually just
        # being started; status and /healthz show it down all the same.
        log.info("job awaiting its first heartbeat", reason=transition.reason, **fields)
    else:
        log.warning("job unhealthy", reason=transition.reason, **fields)
