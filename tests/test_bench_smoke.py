"""The benchmark scripts run end to end in their seconds-long mode and write their JSON.

No timing is asserted: the figures of a tiny run on a busy machine mean nothing.
Only that every benchmark starts its processes, measures, cleans up and
reports the fields ``docs/benchmarks.md`` is built from.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from bench import beat
from bench import run as bench_run

pytestmark = pytest.mark.e2e

MACHINE_FIELDS = {"date", "cores", "cpu_model", "python", "ccxt", "dramatiq", "redis_py"}


RunBench = Callable[[str], dict[str, Any]]


@pytest.fixture
def run_bench(redis_url: str, tmp_path: Path) -> RunBench:
    """Runs one benchmark in its tiny mode; checks its JSON and that it left no keys."""

    def run(name: str) -> dict[str, Any]:
        payload = bench_run.run_one(name, "tiny", redis_url, tmp_path)
        written = json.loads((tmp_path / f"{name}.json").read_text())
        assert written["name"] == name
        assert set(written["machine"]) >= MACHINE_FIELDS
        assert "error" not in written, written.get("error")
        assert written["table"].startswith("|")
        client = redis.Redis.from_url(redis_url)
        assert list(client.scan_iter(match=f"bench:{name}:*", count=1000)) == []
        return payload

    return run


def test_throughput_compares_the_service_with_a_bare_ccxt_loop(run_bench: RunBench) -> None:
    payload = run_bench("throughput")
    row = payload["summary"][0]
    assert row["symbols"] == 10
    for field in ("service_ticks_per_s", "bare_ticks_per_s", "ratio", "frames_ratio",
                  "service_cpu_s_per_1k_ticks", "service_sim_events_per_s"):  # fmt: skip
        assert field in row
    assert row["service_ticks_per_s"] > 0 and row["bare_ticks_per_s"] > 0
    assert {g["goal"] for g in payload["goals"]}


def test_latency_reports_quantiles_of_ticks_seen_on_the_pubsub_channel(run_bench: RunBench) -> None:
    payload = run_bench("latency")
    visible = payload["summary"][0]
    assert visible["ticks"] > 0
    assert visible["p50_ms"] <= visible["p99_ms"] <= visible["max_ms"]


def test_recovery_measures_failover_after_sigkill_and_lease_release_after_sigterm(
    run_bench: RunBench,
) -> None:
    payload = run_bench("recovery")
    first = payload["rounds"][0]
    # The order of what happened: the lease times come from Redis's own PTTLs, not
    # from when a poll noticed them, so it holds to the millisecond.
    assert first["lease_lapsed_s"] <= first["lease_retaken_s"] <= first["failover_s"]
    assert first["sigterm_lease_released_s"] >= 0
    assert first["job_commands_per_s"] > first["job_commands_per_s_without_tick_writes"] > 0
    assert {"evalsha", "hset", "publish"} <= set(first["job_commands_by_name"])


def test_memory_samples_the_worker_rss_at_each_tick_target(run_bench: RunBench) -> None:
    payload = run_bench("memory")
    assert [s["target"] for s in payload["samples"]] == [40_000, 80_000]
    assert all(s["rss_mb"] and s["rss_mb"] > 10 for s in payload["samples"])
    assert payload["growth_mb"] is not None


def test_client_reports_read_latency_quantiles_and_feed_rates_next_to_bare_redis_py(
    run_bench: RunBench,
) -> None:
    payload = run_bench("client")
    calls = {row["call"]: row for row in payload["summary"]}
    assert {
        "client get()",
        "client price(), preferred fresh",
        "bare redis-py HGET + orjson",
    } <= set(calls)
    assert all(0 < row["p50_ms"] <= row["p99_ms"] <= row["max_ms"] for row in calls.values())
    for subscriber in ("client", "bare"):
        feed = payload["feed"][subscriber]
        assert feed["ticks"] == feed["sent"] > 0 and feed["ticks_per_s"] > 0


@pytest.mark.skipif(not beat.SCRIPT.exists(), reason="bench/beat_scale.py is not in yet")
def test_beat_runs_the_beat_scale_script_and_keeps_its_output(
    redis_url: str, tmp_path: Path
) -> None:
    payload = bench_run.run_one("beat", "tiny", redis_url, tmp_path)
    assert "error" not in payload, payload.get("error")
    assert payload["returncode"] == 0
    assert payload["stdout"]


def test_history_measures_backfill_budget_use_bulk_ingest_and_rss_in_one_run(
    run_bench: RunBench,
) -> None:
    payload = run_bench("history")
    speed, budget, ingest = payload["speed"], payload["budget"], payload["ingest"]
    assert speed["candles_per_s"] > 0 and speed["trades_per_s"] > 0
    assert speed["trades_complete"]  # every trade of the range is in Postgres
    assert budget["requests"] > 0 and budget["share_used"] > 0
    assert budget["max_any_60s"] > 0 and budget["requests_per_minute"] > 0
    assert ingest["write_page_rows_per_s"] > 0 and ingest["executemany_rows_per_s"] > 0
    assert payload["rss"]["tally"]["rows"] > 0
    assert 0 < payload["rss_first_mb"] <= payload["rss_max_mb"]
    assert {g["goal"] for g in payload["goals"]} >= {"share of the budget used"}
