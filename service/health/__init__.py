"""Health of the streaming jobs: the registry, derived status, alerts, metrics and HTTP.

- ``record_heartbeat(client, keys, heartbeat, settings=)``: what the ``health``
  actor calls for each heartbeat.
- ``check_transitions(client, keys, settings, now=None)``: the periodic check
  (beat supervision pass, web process) that notices jobs gone silent.
- ``load_status(client, keys, settings)``: the ``Status`` that ``ticker-service
  status``, ``/healthz`` and ``/metrics`` show.
"""

from __future__ import annotations

from service.health.alerts import Transition
from service.health.model import UNDESIRED, HealthState, Status
from service.health.registry import record_heartbeat
from service.health.snapshot import load_snapshot, load_status
from service.health.transitions import check_transitions

__all__ = [
    "UNDESIRED",
    "HealthState",
    "Status",
    "Transition",
    "check_transitions",
    "load_snapshot",
    "load_status",
    "record_heartbeat",
]
