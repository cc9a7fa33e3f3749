"""The outbox between ccxt's ticker cache and the writer."""

from __future__ import annotations

from workers.outbox import Outbox


def ticker(last: float) -> dict:
    return {"bid": last - 1, "ask": last + 1, "last": last, "timestamp": 1}


def test_only_changed_active_tickers_are_queued_in_order() -> None:
    outbox = Outbox("alpha")
    latest = {"A": ticker(1), "B": ticker(2), "C": ticker(3)}
    outbox.observe(["A", "B", "C"], latest, active={"A", "B"})
    outbox.observe(["A", "B"], latest, active={"A", "B"})  # nothing new
    latest["A"] = ticker(4)  # ccxt replaces the dict per frame
    outbox.observe(["A", "B"], latest, active={"A", "B"})
    assert [(t["symbol"], t["last"]) for t in outbox.take()] == [("A", 1), ("B", 2), ("A", 4)]
    assert outbox.take() == []


def test_past_its_limit_the_outbox_keeps_the_latest_per_symbol() -> None:
    outbox = Outbox("alpha", limit=3)
    latest: dict = {}
    for last in range(5):
        latest["A"] = ticker(last)
        latest["B"] = ticker(10 + last)
        outbox.observe(["A", "B"], latest, active={"A", "B"})
    batch = outbox.take()
    assert len(batch) <= 4
    assert {t["symbol"]: t["last"] for t in batch} == {"A": 4, "B": 14}


def test_a_failed_batch_goes_back_ahead_of_newer_ticks() -> None:
    outbox = Outbox("alpha")
    latest = {"A": ticker(1)}
    outbox.observe(["A"], latest, active={"A"})
    failed = outbox.take()
    latest["A"] = ticker(2)
    outbox.observe(["A"], latest, active={"A"})
    outbox.put_back(failed)
    assert [t["last"] for t in outbox.take()] == [2]


def test_forgotten_symbols_leave_the_queue_and_are_reported_for_removal() -> None:
    outbox = Outbox("alpha")
    latest = {"A": ticker(1), "B": ticker(2)}
    outbox.observe(["A", "B"], latest, active={"A", "B"})
    outbox.forget(["B"])
    assert [t["symbol"] for t in outbox.take()] == ["A"]
    assert outbox.take_removed() == ["B"] and outbox.take_removed() == []
