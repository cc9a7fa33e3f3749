"""The Dramatiq queue names: the actors declare themselves on them, workers listen on them.

A module of its own so that a process that only starts workers (the dev
runner) can name the queues without importing ``service.actors``, whose
import registers actors and so needs the broker set first.
"""

from __future__ import annotations

STREAMS_QUEUE = "streams"  # stream_exchange: one long-lived message per job
HEALTH_QUEUE = "health"  # record_heartbeat: short messages, kept off the busy stream threads
HISTORY_QUEUE = "history"  # fetch_history: finite backfill tasks, blocking REST, own processes
QUEUES = (STREAMS_QUEUE, HEALTH_QUEUE, HISTORY_QUEUE)
