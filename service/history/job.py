"""A history task as a worker runs it: the exchange row, a gated client, the store, bookkeeping.

``HistoryWorker.run`` is what the ``fetch_history`` actor hands off to; it can
be called without a broker. Around ``backfill.run_task`` it:

- builds (once per thread) the exchange's ccxt client, gated by its shared budget;
- renews the task's pending marker after every page (the marker is the task's
  claim: a worker killed mid-task stops renewing it, it expires after
  ``marker_ttl_s`` (HISTORY_TASK_TTL_S) and the beat plans the unfinished range again);
- counts rows written per stream (``/metrics``), and on a failed page holds the
  stream off with capped exponential backoff (``retry.py``), cleared by success;
- releases the marker when it returns, so the beat plans the rest at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from service.errors import StoreError
from service.history.backfill import Fetcher, PageStore, TaskOutcome, run_task
from service.history.budget import BudgetSpec, RequestBudget
from service.history.client import ExchangeConfig, gated_client
from service.history.records import Range, Stream, StreamKey, Timeframe
from service.history.retry import clear, note_failure
from service.keys import Keys
from service.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class HistoryJob:
    """One task as the actor receives it (primitives only)."""

    exchange: str
    symbol: str
    stream: Stream
    start_ms: int
    end_ms: int
    task_id: str

    @property
    def key(self) -> StreamKey:
        timeframe = Timeframe.M1 if self.stream == Stream.CANDLES else None
        return StreamKey(self.exchange, self.symbol, self.stream, timeframe)


class HistoryWorker:
    """Runs history tasks in one worker process (any of its threads)."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        store: PageStore,
        load_config: Callable[[str], ExchangeConfig],
        pages_per_task: int,
        marker_ttl_s: float,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.store = store
        self.load_config = load_config
        self.pages_per_task = pages_per_task
        self.marker_ttl_s = marker_ttl_s
        self._local = threading.local()

    def run(self, job: HistoryJob) -> TaskOutcome:
        """Fill what is missing of the job's range, at most ``pages_per_task`` pages.

        Raises ConfigError (the exchange row cannot build a client), DatabaseError.
        """
        try:
            config = self.load_config(job.exchange)
            fetcher = Fetcher(self._client(config), config.ccxt_id, job.key)
            window = Range(job.start_ms, job.end_ms)
            outcome = run_task(
                fetcher,
                self.store,
                window,
                max_pages=self.pages_per_task,
                on_page=lambda: self._renew(job.task_id),
            )
            self._account(job, outcome)
        finally:
            self._release(job.task_id)
        return outcome

    def _client(self, config: ExchangeConfig) -> Any:
        """This thread's client for ``config`` (a new one when the row changed)."""
        cache: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        ident = json.dumps(
            [config.name, config.ccxt_id, config.ccxt_params, config.requests_per_minute],
            sort_keys=True,
            default=str,
        )
        if ident not in cache:
            # A request waits for a token at most half the claim's ttl, so it keeps its claim.
            cache[ident] = gated_client(config, self._budget, token_wait_s=self.marker_ttl_s / 2)
        return cache[ident]

    def _budget(self, exchange: str, spec: BudgetSpec) -> RequestBudget:
        return RequestBudget(self.redis, self.keys, exchange, spec)

    def _renew(self, task_id: str) -> None:
        try:
            self.redis.pexpire(self.keys.history_pending(task_id), int(self.marker_ttl_s * 1000))
        except redis.RedisError as exc:  # the page is written; the claim may lapse, no harm
            log.warning("history claim not renewed", task=task_id, error=str(exc))

    def _release(self, task_id: str) -> None:
        try:
            self.redis.delete(self.keys.history_pending(task_id))
        except redis.RedisError as exc:  # it expires on its own; the beat replans after that
            log.warning("history claim not released", task=task_id, error=str(exc))

    def _account(self, job: HistoryJob, outcome: TaskOutcome) -> None:
        stream = str(job.key)
        try:
            if outcome.rows:
                self.redis.hincrby(self.keys.history_written(), stream, outcome.rows)
            if outcome.error is not None:
                state = note_failure(self.redis, self.keys, stream, outcome.error)
                log.warning("history task failed", stream=stream, attempts=state.attempts)
            elif outcome.pages:
                clear(self.redis, self.keys, stream)
        except (redis.RedisError, StoreError) as exc:  # the ledger already holds the truth
            log.warning("history bookkeeping failed", stream=stream, error=str(exc))
        log.info(
            "history task done",
            stream=stream,
            pages=outcome.pages,
            rows=outcome.rows,
            complete=outcome.complete,
        )
