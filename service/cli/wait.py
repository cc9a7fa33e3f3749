"""``symbols add --wait``: return when the new symbols tick, or say why they do not.

Every ``POLL_S`` one pipeline reads what decides it: the exchange's board (a
tick whose ``received_at`` is after the command started), the desired state
(did the beat apply the edit), the health registry (is the job up; does the
heartbeat of a run that has the symbol name it invalid), the beat lock (does
any beat run) and the beat's last reconcile. A symbol the exchange does not
list fails at once; anything else is explained when the timeout runs out.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass

import redis

from service.beat.status import PassKind, PassStatus
from service.errors import StoreError
from service.health.derive import classify
from service.health.model import HealthState
from service.health.records import JobRecord
from service.keys import Keys
from service.settings import Settings
from workers.clock import now_ms
from workers.redis_text import text
from workers.spec import JobSpec

POLL_S = 0.2
DEFAULT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Target:
    """What to wait for: ``symbols`` of ``exchange`` ticking after ``since_ms``."""

    exchange: str
    symbols: tuple[str, ...]
    since_ms: int


@dataclass(frozen=True)
class Observation:
    """One read of everything the wait decides on."""

    ticked: frozenset[str]
    specs: dict[str, JobSpec]  # symbol -> the desired spec of the job that has it
    jobs: dict[str, JobRecord]
    beat_running: bool
    reconcile: PassStatus | None


def observe(client: redis.Redis, keys: Keys, target: Target) -> Observation:
    """Read the board, desired state, health and beat in one pipeline. Raises StoreError."""
    pipe = client.pipeline(transaction=False)
    pipe.hmget(keys.board(target.exchange), list(target.symbols))
    pipe.hgetall(keys.desired())
    pipe.hgetall(keys.health_jobs())
    pipe.exists(keys.beat_lock())
    pipe.hget(keys.beat_status(), PassKind.RECONCILE)
    try:
        ticks, desired, jobs, lock, reconcile = pipe.execute()
    except redis.RedisError as exc:
        raise StoreError(f"reading the tick store and health: {exc}") from exc
    specs = [s for raw in desired.values() if (s := _spec(raw)) and s.exchange == target.exchange]
    return Observation(
        ticked=frozenset(
            symbol
            for symbol, raw in zip(target.symbols, ticks, strict=True)
            if raw is not None and int(json.loads(raw)["received_at"]) > target.since_ms
        ),
        specs={symbol: spec for spec in specs for symbol in spec.symbols},
        jobs={
            text(key): record
            for key, raw in jobs.items()
            if (record := _record(raw)) and record.heartbeat.exchange == target.exchange
        },
        beat_running=bool(lock),
        reconcile=_status(reconcile),
    )


def invalid(view: Observation, symbol: str) -> bool:
    """True when a run that has ``symbol`` reported it not listed by the exchange."""
    spec = view.specs.get(symbol)
    record = view.jobs.get(spec.job_key) if spec else None
    return bool(
        spec
        and record
        and record.heartbeat.generation >= spec.generation
        and symbol in record.heartbeat.invalid_symbols
    )


def why_not(view: Observation, target: Target, symbol: str, settings: Settings) -> str:
    """Why ``symbol`` has not ticked yet, as an operator would want to read it."""
    if not view.beat_running:
        return "no beat is running (start `ticker-scheduler`); the symbol is saved"
    spec = view.specs.get(symbol)
    if spec is None:
        return _not_desired(view, target, symbol)
    record = view.jobs.get(spec.job_key)
    state, reason = classify(record, now_ms(), settings)
    if record is None:
        return f"job {spec.job_key} is not up: no heartbeat (is a worker running?)"
    if state != HealthState.UP:
        return f"job {spec.job_key} is {state}: {reason}"
    if record.heartbeat.generation < spec.generation:
        age = (now_ms() - record.heartbeat.sent_at) / 1000
        return f"job {spec.job_key} has not taken the edit up (last heartbeat {age:.1f} s ago)"
    return f"job {spec.job_key} subscribed it, but no tick has arrived"


def _not_desired(view: Observation, target: Target, symbol: str) -> str:
    status = view.reconcile
    if status is None or status.at < target.since_ms:
        return "the beat has not reconciled since the edit"
    if status.error:
        return f"the beat's last reconcile failed: {status.error}"
    for row in status.skipped_rows:
        if row.exchange == target.exchange and (row.table == "exchanges" or row.name == symbol):
            return f"the beat skipped {row.label}: {row.error}"
    return (
        f"the beat did not make it desired (is exchange {target.exchange} enabled, "
        "and allowed by TICKER_DAEMON_EXCHANGES?)"
    )


def wait_for_ticks(
    client: redis.Redis, keys: Keys, settings: Settings, target: Target, timeout_s: float
) -> int:
    """Print each symbol as it ticks; 0 when all did, 1 (with the reasons) otherwise."""
    started = time.monotonic()
    pending = list(target.symbols)
    while True:
        view = observe(client, keys, target)
        for symbol in [s for s in pending if s in view.ticked]:
            print(f"{symbol} ticking on {target.exchange} ({time.monotonic() - started:.1f} s)")
            pending.remove(symbol)
        if not pending:
            return 0
        if bad := [s for s in pending if invalid(view, s)]:
            _fail(f"{target.exchange} does not list {', '.join(bad)} (the job reports it invalid)")
            return 1
        if time.monotonic() - started >= timeout_s:
            _fail(f"no tick within {timeout_s:g} s:")
            for symbol in pending:
                print(f"  {symbol}: {why_not(view, target, symbol, settings)}", file=sys.stderr)
            return 1
        time.sleep(POLL_S)


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _spec(raw: bytes) -> JobSpec | None:
    try:
        return JobSpec.from_json(raw)
    except (ValueError, TypeError):
        return None


def _record(raw: bytes) -> JobRecord | None:
    try:
        return JobRecord.from_dict(json.loads(raw))
    except (ValueError, TypeError):
        return None


def _status(raw: bytes | None) -> PassStatus | None:
    try:
        return None if raw is None else PassStatus.from_json(PassKind.RECONCILE, raw)
    except (ValueError, KeyError):
        return None
