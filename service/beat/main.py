"""``ticker-scheduler``: the beat process.

Reads the settings once, sets up logging and the Dramatiq broker, then runs
APScheduler jobs in a BackgroundScheduler: the beat lock tick (every third
of the lock ttl), a reconcile (at start, then every RECONCILE_INTERVAL_S), a
supervision pass (at start, then every SUPERVISE_INTERVAL_S) and a history
pass (at start, then every HISTORY_INTERVAL_S: gaps -> backfill tasks).
Beside the scheduler, threads listen for edits (the CLI's wake-ups on Redis;
on Postgres the tables' trigger notices) and run a reconcile pass at once
(``service.beat.wakeup``). SIGTERM or Ctrl-C stops it: running passes
finish, the lock is released, the exit code is 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from service.beat.history import EnqueueHistory, HistoryPlanner, task_args
from service.beat.listen import RedisWakeups, listen
from service.beat.lock import BeatLock, lock_ttl_s
from service.beat.pg_listen import PostgresEdits, is_postgres
from service.beat.reconcile import ReconcileOptions
from service.beat.runner import Beat
from service.beat.status import PassKind
from service.beat.supervise import Enqueue, pending_ttl_s, restore_hold_off_s
from service.beat.wakeup import Wakeup, reconcile_now
from service.errors import TickerServiceError
from service.health import check_transitions
from service.history.plan import HistoryTask, PlanLimits
from service.history.retention import Retention
from service.history.store_access import history_store, load_wanted
from service.keys import Keys
from service.logs import configure_logging, get_logger
from service.redis_client import sync_client
from service.settings import Settings, redact_url

log = get_logger(__name__)

# A wake-up pass in progress finishes within its socket timeouts (5 s).
THREAD_JOIN_S = 10.0


def beat_id() -> str:
    """host:pid:random, unique per beat process; also the beat lock's token."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def broker_enqueue(settings: Settings) -> Enqueue:
    """``stream_exchange.send`` on the Redis broker built from ``settings``."""
    from service.broker import setup_broker

    setup_broker(settings)  # before any actor module is imported
    from service.actors import stream_exchange

    def enqueue(job_key: str) -> None:
        stream_exchange.send(job_key)

    return enqueue


def broker_enqueue_history(settings: Settings) -> EnqueueHistory:
    """``fetch_history.send`` on the Redis broker built from ``settings``."""
    from service.broker import setup_broker

    setup_broker(settings)
    from service.actors import fetch_history

    def enqueue(task: HistoryTask) -> None:
        fetch_history.send(*task_args(task))

    return enqueue


def history_planner(
    settings: Settings, client: Any, keys: Keys, enqueue: EnqueueHistory
) -> HistoryPlanner:
    """The beat's history planner: the store's ledger and wanted rows, the plan's limits.

    The store is opened at the first pass, so a database that is away fails
    that pass (recorded, retried at the next) rather than the beat's start.
    With ``HISTORY_RETENTION_DAYS`` the pass also applies retention (hourly).
    """
    store = lru_cache(maxsize=1)(partial(history_store, settings.database_url))
    days = settings.history_retention_days
    retention = None
    if days is not None:
        retention = Retention(days, lambda keep, now: store().apply_retention(keep, now))
    return HistoryPlanner(
        client=client,
        keys=keys,
        load_wanted=partial(load_wanted, settings.database_url),
        coverage=lambda wanted, window: store().coverage(wanted.key, window),
        enqueue=enqueue,
        limits=PlanLimits(max_in_flight=settings.history_tasks_per_exchange),
        marker_ttl_s=settings.history_task_ttl_s,
        retention=retention,
    )


def build_scheduler(beat: Beat, settings: Settings, lock_ttl: float) -> BackgroundScheduler:
    """Lock, reconcile, supervision (the last two at once on start), history planning
    (first one interval after start, so the start-up reconcile and supervision run
    alone: the ticker streams come first) and the health check."""
    now = datetime.now(UTC)
    scheduler = BackgroundScheduler(
        timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1}
    )
    # A pass that wakes late still runs (once: coalesce) within one interval of its
    # time; later than that, the next regular run is due anyway.
    history_at = now + timedelta(seconds=settings.history_interval_s)
    for job_id, func, interval, first in (
        ("lock", beat.lock_tick, lock_ttl / 3, now),
        (PassKind.RECONCILE, beat.reconcile_pass, settings.reconcile_interval_s, now),
        (PassKind.SUPERVISE, beat.supervise_pass, settings.supervise_interval_s, now),
        (PassKind.HISTORY, beat.history_pass, settings.history_interval_s, history_at),
    ):
        scheduler.add_job(
            func,
            "interval",
            id=job_id,
            seconds=interval,
            next_run_time=first,
            misfire_grace_time=max(1, int(interval)),
        )
    # Jobs that stop heartbeating altogether turn "down" only when someone looks:
    # the beat looks every supervision interval, so the alert is logged in time;
    # no more often than heartbeats arrive (it reads the whole registry).
    health_every_s = max(settings.supervise_interval_s, settings.heartbeat_interval_s)
    scheduler.add_job(
        _health_check(beat, settings),
        "interval",
        id="health",
        seconds=health_every_s,
        misfire_grace_time=max(1, int(health_every_s)),
    )
    return scheduler


def _health_check(beat: Beat, settings: Settings) -> Callable[[], None]:
    def check() -> None:
        try:
            check_transitions(beat.client, beat.keys, settings)
        except TickerServiceError as exc:  # Redis away: the next pass tries again
            log.warning("beat health check failed", error=str(exc))

    return check


def build_beat(
    settings: Settings, enqueue: Enqueue, enqueue_history: EnqueueHistory | None = None
) -> tuple[Beat, float]:
    """The Beat for ``settings`` and its lock ttl in seconds (history planned when
    ``enqueue_history`` is given)."""
    from service.beat.source import DatabaseSource, check_exchange_row, validate_symbol

    identity = beat_id()
    client = sync_client(settings.redis_url)
    keys = Keys(settings.key_prefix)
    ttl = lock_ttl_s(settings.supervise_interval_s)
    options = ReconcileOptions(
        shard_size=settings.shard_size,
        allow=settings.daemon_exchanges,
        pending_ttl_s=pending_ttl_s(settings.lease_ttl_s),
        restore_hold_off_s=restore_hold_off_s(settings.lease_ttl_s),
        check_exchange=check_exchange_row,
        check_symbol=validate_symbol,
    )
    beat = Beat(
        client=client,
        keys=keys,
        load=DatabaseSource(settings.database_url),
        enqueue=enqueue,
        options=options,
        beat_id=identity,
        lock=BeatLock(client, keys.beat_lock(), identity, ttl_s=ttl),
        history=None
        if enqueue_history is None
        else history_planner(settings, client, keys, enqueue_history),
    )
    return beat, ttl


def start_edit_listeners(
    beat: Beat, settings: Settings, stop: threading.Event
) -> list[threading.Thread]:
    """Start the wake-up thread and its listeners (Redis; Postgres too when the database is)."""
    wakeup = Wakeup(partial(reconcile_now, beat))
    targets: dict[str, Callable[[], None]] = {
        "beat-wakeup": partial(wakeup.run, stop),
        "beat-listen-redis": partial(
            listen, RedisWakeups(settings.redis_url, beat.keys), wakeup.request, stop
        ),
    }
    if is_postgres(settings.database_url):
        source = PostgresEdits(settings.database_url)
        targets["beat-listen-postgres"] = partial(listen, source, wakeup.request, stop)
    threads = [threading.Thread(target=t, name=name, daemon=True) for name, t in targets.items()]
    for thread in threads:
        thread.start()
    return threads


def _stop_threads(threads: list[threading.Thread], stop: threading.Event) -> None:
    stop.set()
    for thread in threads:
        thread.join(THREAD_JOIN_S)
        if thread.is_alive():
            log.warning("beat thread did not stop", thread=thread.name)


def run(settings: Settings, stop: threading.Event) -> None:
    """Run the beat until ``stop`` is set; then stop the scheduler and release the lock."""
    beat, ttl = build_beat(settings, broker_enqueue(settings), broker_enqueue_history(settings))
    scheduler = build_scheduler(beat, settings, ttl)
    log.info(
        "beat started",
        beat_id=beat.beat_id,
        database=redact_url(settings.database_url),
        redis=redact_url(settings.redis_url),
        prefix=settings.key_prefix,
        reconcile_interval_s=settings.reconcile_interval_s,
        supervise_interval_s=settings.supervise_interval_s,
        lock_ttl_s=ttl,
    )
    threads: list[threading.Thread] = []
    try:
        beat.lock_tick()  # before the first passes, so a free lock means they run at once
        beat.reconcile_due = False  # the reconcile job runs at once anyway
        if not stop.is_set():  # a signal during start-up (imports take seconds)
            threads = start_edit_listeners(beat, settings, stop)
            scheduler.start()
            stop.wait()
    finally:
        _stop_threads(threads, stop)  # before the lock goes: no wake-up pass after it
        if scheduler.running:
            scheduler.shutdown(wait=True)  # a running pass finishes (5 s socket timeouts)
        _release(beat)
        log.info("beat stopped", beat_id=beat.beat_id)


def _release(beat: Beat) -> None:
    if beat.lock is not None and beat.active:
        try:
            beat.lock.release()
        except TickerServiceError as exc:
            log.warning("beat lock release failed", error=str(exc))
    close = getattr(beat.load, "close", None)
    if close is not None:
        close()


def quiet_chatty_loggers() -> None:
    """Alembic (imported with the repository) logs its plugin set-up at INFO on start."""
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def main() -> int:
    """Console script ``ticker-scheduler``; returns the exit code (2 on a bad setting)."""
    try:
        settings = Settings.from_env()
    except TickerServiceError as exc:
        print(f"ticker-scheduler: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    quiet_chatty_loggers()
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        # Only set the event: logging from a signal handler can deadlock on the
        # handler locks the interrupted code holds.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    run(settings, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
