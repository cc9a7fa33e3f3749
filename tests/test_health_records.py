"""Heartbeats and registry records decoded once at the edge: what passes, what is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.health.records import JobRecord, WorkerRecord
from workers.heartbeat import Heartbeat, HeartbeatError
from workers.states import JobState

NOW = 1_700_000_000_000


def sent(**changes: Any) -> dict[str, Any]:
    """A heartbeat as the queue delivers it."""
    beat = Heartbeat("binance", "binance", "w1", "host-a", 100, JobState.STREAMING, NOW)
    return {**beat.to_dict(), **changes}


def test_a_heartbeat_decodes_to_what_was_sent_with_a_typed_state() -> None:
    beat = Heartbeat.from_dict(sent(state="stale", symbols=["BTC/USDT"], unknown="ignored"))
    assert beat.state is JobState.STALE
    assert beat.to_dict() == sent(state="stale", symbols=["BTC/USDT"])


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        pytest.param({"job_key": None}, ["job_key"], id="no job key"),
        pytest.param({"worker_id": ""}, ["worker_id"], id="empty worker id"),
        pytest.param({"sent_at": True}, ["binance", "sent_at"], id="sent_at a bool"),
        pytest.param({"sent_at": "1700000000000"}, ["binance", "sent_at"], id="sent_at text"),
        pytest.param({"state": "sleeping"}, ["binance", "state"], id="unknown state"),
        pytest.param({"state": ["streaming"]}, ["binance", "state"], id="state not text"),
    ],
)
def test_a_malformed_heartbeat_is_refused_naming_the_field_and_job(
    changes: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(HeartbeatError) as refused:
        Heartbeat.from_dict(sent(**changes))
    assert all(word in str(refused.value) for word in named)


def test_a_heartbeat_without_a_required_field_is_refused() -> None:
    data = sent()
    del data["host"]
    with pytest.raises(HeartbeatError, match="binance without host"):
        Heartbeat.from_dict(data)


def test_stored_records_read_back_key_for_key() -> None:
    job = {**sent(), "run_started_at": NOW - 5_000, "recorded_at": NOW + 3}
    worker = {"worker_id": "w1", "host": "h", "pid": 1, "jobs": ["a", "b"], "last_seen_at": NOW}
    for data, record_type in ((job, JobRecord), (worker, WorkerRecord)):
        decoded = record_type.from_dict(json.loads(json.dumps(data)))
        assert json.dumps(decoded.to_dict()) == json.dumps(data)


def test_a_job_record_without_its_run_start_is_refused() -> None:
    with pytest.raises(ValueError, match="run_started_at"):
        JobRecord.from_dict({**sent(), "recorded_at": NOW})
