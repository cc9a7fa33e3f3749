"""Every Redis key and channel the service uses, in one place.

All keys start with a prefix (``TICKER_KEY_PREFIX``, default ``ticker``) so
several deployments, or tests, can share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "ticker"

    # -- tick store -------------------------------------------------------
    def board(self, exchange: str) -> str:
        """Hash: symbol -> latest tick JSON of one exchange (HGET / HGETALL)."""
        return f"{self.prefix}:board:{exchange}"

    def exchanges(self) -> str:
        """Set of exchange names that have a board."""
        return f"{self.prefix}:exchanges"

    def tick_channel(self, exchange: str) -> str:
        """Pub/sub channel: one JSON array of ticks per written batch."""
        return f"{self.prefix}:ticks:{exchange}"

    # -- desired state (written by the beat, read by the jobs) -----------------
    def desired(self) -> str:
        """Hash: job key -> JobSpec JSON."""
        return f"{self.prefix}:desired"

    def desired_marker(self) -> str:
        """String: set by the beat with the whole desired state, never deleted by it.

        Its absence means the desired state itself is gone (Redis lost its data),
        not that a job was removed: a job whose key is missing keeps streaming then.
        """
        return f"{self.prefix}:desired:marker"

    def generation(self) -> str:
        """Counter: the next generation number for a changed JobSpec."""
        return f"{self.prefix}:desired:generation"

    # -- job supervision ------------------------------------------------------
    def lease(self, job_key: str) -> str:
        """String: the token of the run that streams this job (SET NX PX)."""
        return f"{self.prefix}:lease:{job_key}"

    def pending(self, job_key: str) -> str:
        """String: set while a stream_exchange message is queued (SET NX PX)."""
        return f"{self.prefix}:pending:{job_key}"

    def beat_lock(self) -> str:
        """String: the token of the active beat."""
        return f"{self.prefix}:beat:lock"

    def beat_wakeup(self) -> str:
        """Pub/sub channel: an edit was committed, the beat reconciles now (payload: what)."""
        return f"{self.prefix}:beat:wakeup"

    # -- market history --------------------------------------------------------
    def request_budget(self, exchange: str) -> str:
        """Hash: the exchange's shared REST token bucket (tokens, at_ms), every worker's."""
        return f"{self.prefix}:budget:{exchange}"

    def request_backoff(self, exchange: str) -> str:
        """String: set after a 429/418, expiring at the backoff deadline; JSON of why."""
        return f"{self.prefix}:budget:{exchange}:backoff"

    def request_backoff_pattern(self) -> str:
        """SCAN pattern of every exchange's backoff key."""
        return f"{self.prefix}:budget:*:backoff"

    def backoff_strikes(self, exchange: str) -> str:
        """Counter: 429/418 answers in a row (expires), for the next backoff's length."""
        return f"{self.prefix}:budget:{exchange}:strikes"

    def history_pending(self, task_id: str) -> str:
        """String: set while a history task is queued or running (SET NX PX)."""
        return f"{self.prefix}:history:pending:{task_id}"

    def history_pending_pattern(self) -> str:
        """SCAN pattern of every history pending marker."""
        return f"{self.prefix}:history:pending:*"

    def history_retry(self, stream: str) -> str:
        """String: JSON {attempts, error}, expiring when a failed stream may be fetched again."""
        return f"{self.prefix}:history:retry:{stream}"

    def history_retry_pattern(self) -> str:
        """SCAN pattern of every stream in fetch-failure backoff."""
        return f"{self.prefix}:history:retry:*"

    def history_summary(self) -> str:
        """Hash: stream -> JSON StreamSummary of the beat's last history pass."""
        return f"{self.prefix}:history:summary"

    def history_written(self) -> str:
        """Hash: stream -> rows written by the backfill (a counter per stream)."""
        return f"{self.prefix}:history:written"

    # -- health ---------------------------------------------------------------
    def health_jobs(self) -> str:
        """Hash: job key -> latest heartbeat JSON."""
        return f"{self.prefix}:health:jobs"

    def health_workers(self) -> str:
        """Hash: worker id -> worker record JSON."""
        return f"{self.prefix}:health:workers"

    def health_states(self) -> str:
        """Hash: job key -> last derived health state (for transition alerts)."""
        return f"{self.prefix}:health:states"

    def beat_status(self) -> str:
        """Hash: field reconcile|supervise -> JSON of the beat's last pass of that kind."""
        return f"{self.prefix}:health:beat"
