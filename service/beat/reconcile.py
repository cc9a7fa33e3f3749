"""Reconcile: read the database, plan against the desired state, apply, then supervise.

The database is read first, so an outage leaves the desired state (and with
it every running stream) untouched. Only specs whose content changed are
written, each with a new generation; jobs that should stop leave the desired
state (a running job sees that and returns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.beat.plan import ExchangeCheck, Plan, SymbolCheck, plan
from service.beat.supervise import Enqueue, Supervision, supervise
from service.db import snapshot, validation
from service.desired import DesiredState

# Returns the enabled exchanges: the database source's ``LoadedRows`` also carries
# the rows it could not read, which the plan reports with its own skipped rows.
Load = Callable[[], Iterable[snapshot.ExchangeSnapshot]]


@dataclass(frozen=True)
class Reconciliation:
    """The applied plan and the supervision that followed it."""

    plan: Plan
    supervision: Supervision


@dataclass(frozen=True)
class ReconcileOptions:
    """How rows become jobs: settings plus the row validators (by default the database's)."""

    shard_size: int
    allow: frozenset[str] | None
    pending_ttl_s: float
    check_exchange: ExchangeCheck = snapshot.check_exchange
    check_symbol: SymbolCheck = validation.validate_symbol


def reconcile(
    load: Load, desired: DesiredState, enqueue: Enqueue, options: ReconcileOptions
) -> Reconciliation:
    """One reconcile; returns what it changed and enqueued.

    Raises DatabaseError (from ``load``; nothing touched) or StoreError.
    """
    rows = load()
    running = desired.all()
    result = plan(
        rows,
        running,
        shard_size=options.shard_size,
        allow=options.allow,
        check_exchange=options.check_exchange,
        check_symbol=options.check_symbol,
    )
    desired.put_many(result.put)
    desired.remove_many(result.remove)
    job_keys = sorted((set(running) - set(result.remove)) | {s.job_key for s in result.put})
    supervision = supervise(
        desired.client,
        desired.keys,
        enqueue,
        pending_ttl_s=options.pending_ttl_s,
        job_keys=job_keys,
    )
    return Reconciliation(plan=result, supervision=supervision)
