"""Prometheus metrics built from the health registry on every scrape.

A custom Collector, not global counters mutated in place: the numbers live in
Redis (written by the workers' heartbeats), so each scrape reads them once
and reports what is there now. Job counters (ticks, reconnects) restart when a
job restarts, which Prometheus treats as a counter reset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.errors import StoreError
from service.health.history_metrics import HistoryCollector
from service.health.model import HealthState, JobHealth, PassHealth, Status
from service.history.health import HistoryHealth
from service.logs import get_logger

log = get_logger(__name__)

JOB_LABELS = ("job", "exchange")
Family = GaugeMetricFamily | CounterMetricFamily


class HealthCollector(Collector):
    """Yields the metrics of one freshly loaded ``Status`` per scrape.

    ``load`` returns the status or raises StoreError; a Redis that does not
    answer gives ``ticker_registry_up 0`` and nothing else, not a failed scrape.
    """

    def __init__(self, load: Callable[[], Status]) -> None:
        self._load = load

    def describe(self) -> list[Metric]:
        # Nothing up front: registering must not read Redis.
        return []

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ticker_registry_up", "1 when the health registry could be read")
        try:
            status = self._load()
        except StoreError as exc:
            log.warning("metrics: registry unreadable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from status_metrics(status)


def status_metrics(status: Status) -> Iterator[Metric]:
    """Every metric of one status: overall, per job, per worker state, per beat pass."""
    healthy = GaugeMetricFamily("ticker_healthy", "1 when every desired job is up")
    healthy.add_metric([], int(status.healthy))
    yield healthy
    by_state = GaugeMetricFamily("ticker_jobs", "desired jobs by health state", labels=["state"])
    for state, count in status.counts().items():
        by_state.add_metric([state], count)
    yield by_state
    yield from job_metrics(status)
    yield from worker_metrics(status)
    yield from beat_metrics(status)


def job_metrics(status: Status) -> Iterator[Metric]:
    """Per desired job: state, ticks, symbols, rate, reconnects, ages and latency."""
    families = _job_families()
    for job in status.jobs:
        _add_job(families, job)
    yield from families.values()


def _job_families() -> dict[str, Family]:
    by_job = JOB_LABELS
    return {
        "state": GaugeMetricFamily(
            "ticker_job_state", "1 for the job's health state", labels=[*by_job, "state"]
        ),
        "ticks": CounterMetricFamily("ticker_job_ticks", "ticks of the run", labels=by_job),
        "reconnects": CounterMetricFamily(
            "ticker_job_reconnects", "reconnects of the run", labels=by_job
        ),
        "symbols": _job_gauge("ticker_job_symbols", "symbols subscribed"),
        "invalid": _job_gauge("ticker_job_invalid_symbols", "symbols the exchange lacks"),
        "stale": _job_gauge("ticker_job_stale_symbols", "symbols without a recent tick"),
        "rate": _job_gauge("ticker_job_ticks_per_second", "recent tick rate"),
        "tick_age": _job_gauge("ticker_job_last_tick_age_seconds", "age of the last tick"),
        "hb_age": _job_gauge("ticker_job_heartbeat_age_seconds", "age of the last heartbeat"),
        "latency": GaugeMetricFamily(
            "ticker_job_latency_seconds",
            "exchange timestamp to receipt, by quantile",
            labels=[*by_job, "quantile"],
        ),
    }


def _add_job(families: dict[str, Family], job: JobHealth) -> None:
    labels = [job.job_key, job.exchange]
    for state in HealthState:
        families["state"].add_metric([*labels, state], int(job.state == state))
    families["ticks"].add_metric(labels, job.ticks_total)
    families["reconnects"].add_metric(labels, job.reconnects)
    families["symbols"].add_metric(labels, len(job.symbols))
    families["invalid"].add_metric(labels, len(job.invalid_symbols))
    families["stale"].add_metric(labels, len(job.stale_symbols))
    families["rate"].add_metric(labels, job.ticks_per_s)
    _add_known(families["tick_age"], labels, job.last_tick_age_s)
    _add_known(families["hb_age"], labels, job.heartbeat_age_s)
    for quantile, ms in (("0.5", job.latency_p50_ms), ("0.99", job.latency_p99_ms)):
        _add_known(families["latency"], [*labels, quantile], None if ms is None else ms / 1000)


def worker_metrics(status: Status) -> Iterator[Metric]:
    workers = GaugeMetricFamily("ticker_workers", "workers heard from", labels=["alive"])
    alive = sum(1 for worker in status.workers if worker.alive)
    workers.add_metric(["true"], alive)
    workers.add_metric(["false"], len(status.workers) - alive)
    yield workers
    # Per live worker process: its stream jobs and the most it runs (STREAM_JOBS_PER_PROCESS).
    jobs = GaugeMetricFamily("ticker_worker_jobs", "stream jobs a worker runs", labels=["worker"])
    capacity = GaugeMetricFamily(
        "ticker_worker_capacity", "most stream jobs a worker runs", labels=["worker"]
    )
    for worker in status.workers:
        if worker.alive and worker.capacity is not None:
            jobs.add_metric([worker.worker_id], worker.running or 0)
            capacity.add_metric([worker.worker_id], worker.capacity)
    yield jobs
    yield capacity


def beat_metrics(status: Status) -> Iterator[Metric]:
    """Per beat pass kind: last duration, age and whether it is ok."""
    duration = _kind_gauge("ticker_beat_pass_duration_seconds", "duration of the last pass")
    age = _kind_gauge("ticker_beat_last_pass_age_seconds", "age of the last pass")
    ok = _kind_gauge("ticker_beat_pass_ok", "1 when the last pass succeeded and is recent")
    passes: tuple[PassHealth, ...] = (status.beat.reconcile, status.beat.supervise)
    for p in passes:
        _add_known(duration, [p.kind], None if p.duration_ms is None else p.duration_ms / 1000)
        _add_known(age, [p.kind], p.age_s)
        ok.add_metric([p.kind], int(p.ok))
    yield from (duration, age, ok)


def _job_gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=JOB_LABELS)


def _kind_gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=["kind"])


def _add_known(metric: Family, labels: list[str], value: float | None) -> None:
    # An unknown value is left out rather than reported as a misleading zero.
    if value is not None:
        metric.add_metric(labels, value)


def metrics_registry(
    load: Callable[[], Status], load_history: Callable[[], HistoryHealth] | None = None
) -> CollectorRegistry:
    """A registry of its own (not the global one): the health collector, and history's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HealthCollector(load))
    if load_history is not None:
        registry.register(HistoryCollector(load_history))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of one scrape."""
    return generate_latest(registry)
