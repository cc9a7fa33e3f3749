"""The status as text a person reads at a glance (``ticker-service status``)."""

from __future__ import annotations

from collections.abc import Sequence

from service.beat.status import PassKind
from service.db.skipped import SkippedRow, Table
from service.health.model import HealthState, JobHealth, PassHealth, Status, WorkerHealth
from service.history.health import HistoryHealth
from service.history.summary import StreamSummary

HEADER = (
    "JOB",
    "STATE",
    "SYMBOLS",
    "TICKS/S",
    "LAST TICK",
    "RECONN",
    "P50/P99 MS",
    "WORKER",
    "REASON / LAST ERROR",
)
ERROR_WIDTH = 60


def render_status(status: Status, history: HistoryHealth | None = None) -> str:
    """The table of desired jobs, then stale symbols, undesired jobs, workers, the beat
    and, when given and any stream collects it, market history."""
    lines = [_summary(status), ""]
    lines += _table([HEADER, *(_job_row(job) for job in status.jobs)])
    lines += _stale_symbol_lines(status.jobs)
    if status.undesired:
        lines += ["", "not desired any more (not counted):"]
        lines += [f"  {_job_aside(job)}" for job in status.undesired]
    workers = [f"  {_worker_line(w)}" for w in status.workers] or ["  none heard from"]
    lines += ["", "workers:", *workers]
    lines += ["", _beat_line(status)]
    lines += _skipped_lines(status.beat.reconcile.skipped_rows)
    if history is not None:
        lines += history_lines(history)
    return "\n".join(lines)


HISTORY_HEADER = ("STREAM", "LAG", "GAP MIN", "GAPS", "WRITTEN", "FIRST GAP")


def history_lines(health: HistoryHealth) -> list[str]:
    """Each history stream's lag and gaps, then backed-off exchanges and failing streams."""
    if not health.streams and not health.backoffs:
        return []
    lines = ["", f"history: {len(health.streams)} streams, {health.gap_minutes:g} gap minutes"]
    if health.streams:
        rows = [HISTORY_HEADER, *(_history_row(health, s) for s in health.streams)]
        lines += [f"  {line}" for line in _table(rows)]
    for b in health.backoffs:
        left = max(0.0, (b.until_ms - health.at_ms) / 1000)
        lines.append(f"  {b.exchange} backed off for {format_age(left)} more ({b.reason})")
    for r in health.failing:
        if r.until_ms > health.at_ms:
            wait = format_age((r.until_ms - health.at_ms) / 1000)
            error = _truncate(r.error, ERROR_WIDTH)
            lines.append(f"  {r.stream}: {r.attempts} failed in a row, retry in {wait}: {error}")
    return lines


def _history_row(health: HistoryHealth, s: StreamSummary) -> tuple[str, ...]:
    first = s.first_gap_reason or "-"
    if s.first_gap_error:
        first += f": {_truncate(s.first_gap_error, ERROR_WIDTH)}"
    return (
        s.stream,
        format_age(s.lag_s(health.at_ms)),
        f"{s.gap_minutes:g}",
        str(s.gaps),
        str(health.written.get(s.stream, 0)),
        first,
    )


def _summary(status: Status) -> str:
    counts = status.counts()
    verdict = "HEALTHY" if status.healthy else "UNHEALTHY"
    if not status.jobs:
        return f"{verdict}: no job is desired (has the beat run? are exchanges enabled?)"
    parts = ", ".join(f"{n} {state}" for state, n in counts.items())
    jobs = "job" if len(status.jobs) == 1 else "jobs"
    return f"{verdict}: {len(status.jobs)} desired {jobs}: {parts}"


def _job_row(job: JobHealth) -> tuple[str, ...]:
    symbols = str(len(job.symbols))
    if job.invalid_symbols:
        symbols += f" (+{len(job.invalid_symbols)} invalid)"
    heard = job.heartbeat_state is not None
    detail = job.reason or job.last_error or ""
    if job.reason and job.last_error and job.last_error != job.reason:
        detail = f"{job.reason}; last error: {job.last_error}"
    return (
        job.job_key,
        job.state.upper() if job.state != HealthState.UP else job.state,
        symbols,
        f"{job.ticks_per_s:.1f}" if heard else "-",
        format_age(job.last_tick_age_s),
        str(job.reconnects) if heard else "-",
        _latency(job),
        f"{job.host}:{job.pid}" if heard else "-",
        _truncate(detail, ERROR_WIDTH),
    )


def _latency(job: JobHealth) -> str:
    if job.latency_p50_ms is None and job.latency_p99_ms is None:
        return "-"
    return f"{_number(job.latency_p50_ms)}/{_number(job.latency_p99_ms)}"


def _stale_symbol_lines(jobs: Sequence[JobHealth]) -> list[str]:
    lines = []
    for job in jobs:
        if job.stale_symbols:
            names = _truncate(", ".join(job.stale_symbols), 80)
            lines.append(f"  {job.job_key}: {len(job.stale_symbols)} stale symbols: {names}")
    return ["", *lines] if lines else []


def _job_aside(job: JobHealth) -> str:
    return (
        f"{job.job_key}: last heartbeat {format_age(job.heartbeat_age_s)} ago, "
        f"state {job.heartbeat_state}, worker {job.host}:{job.pid}"
    )


def _worker_line(worker: WorkerHealth) -> str:
    alive = "alive" if worker.alive else "SILENT"
    jobs = ", ".join(worker.jobs) or "no jobs"
    return (
        f"{worker.worker_id} on {worker.host} pid {worker.pid}: {alive}, "
        f"seen {format_age(worker.last_seen_age_s)} ago, {_load(worker)}holds {jobs}"
    )


def _load(worker: WorkerHealth) -> str:
    """``jobs 2/16, `` (running/capacity) when the worker reports it."""
    if worker.capacity is None:
        return ""
    running = "?" if worker.running is None else str(worker.running)
    return f"jobs {running}/{worker.capacity}, "


def _beat_line(status: Status) -> str:
    beat = status.beat
    parts = [_pass_text(beat.reconcile), _pass_text(beat.supervise)]
    verdict = "ok" if beat.ok else "PROBLEM: " + "; ".join(beat.problems)
    return f"beat: {'; '.join(parts)} -> {verdict}"


def _pass_text(p: PassHealth) -> str:
    if p.at is None:
        return f"{p.kind} never"
    took = f"{p.duration_ms:.0f}ms" if p.duration_ms is not None else "?"
    counts = f", {p.jobs} jobs, {p.enqueued} enqueued" if p.kind == PassKind.RECONCILE else ""
    return f"{p.kind} {format_age(p.age_s)} ago in {took} {p.outcome}{counts}"


SKIPPED_HEADER = ("TABLE", "ROW", "COLUMN", "ERROR")


def _skipped_lines(rows: Sequence[SkippedRow]) -> list[str]:
    """The rows the last reconcile skipped (the others were applied), one per line."""
    if not rows:
        return []
    count = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
    table = _table([SKIPPED_HEADER, *(_skipped_row(row) for row in rows)])
    return ["", f"skipped by the last reconcile ({count}; fix or disable them):"] + [
        f"  {line}" for line in table
    ]


def _skipped_row(row: SkippedRow) -> tuple[str, ...]:
    name = _shown(row.name)
    if row.id is not None and name != row.name:  # a blank or odd name: the id finds the row
        name += f" (id {row.id})"
    if row.table == Table.SYMBOLS:
        name = f"{_shown(row.exchange)} {name}"
    # Whole (the record caps its length) and with its spacing: it may quote a blank name.
    return (row.table, name, row.column or "-", " ".join(row.error.splitlines()))


def _shown(name: str) -> str:
    # Quoted when a plain rendering would hide what is wrong (blank, spaces, control chars).
    plain = name and name == name.strip() and name.isprintable() and " " not in name
    return name if plain else repr(name)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_age(seconds: float | None) -> str:
    """A short age: ``0.4s``, ``42s``, ``5m12s``, ``3h04m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes}m{int(seconds % 60):02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())  # tracebacks and multi-line errors on one line
    return text if len(text) <= width else text[: width - 3] + "..."
