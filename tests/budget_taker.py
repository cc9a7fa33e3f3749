"""Takes tokens of one RequestBudget until a time, noting when each was granted.

Used in threads by tests/test_history_budget.py and, to share the budget across
processes, as a process of its own: ``python -m tests.budget_taker URL PREFIX RPM
UNTIL`` prints the grant times as JSON.
"""

from __future__ import annotations

import json
import sys
import time

import redis

from service.history.budget import RequestBudget, budget_spec
from service.keys import Keys


def take_for(budget: RequestBudget, until: float, grants: list[int]) -> None:
    while time.time() < until:
        ok, wait_ms, at = budget.try_take()
        if ok:
            grants.append(at)
        else:
            time.sleep(min(wait_ms, 50) / 1000)


def main(argv: list[str]) -> None:
    url, prefix, rpm, until = argv[0], argv[1], int(argv[2]), float(argv[3])
    budget = RequestBudget(redis.Redis.from_url(url), Keys(prefix), "binance", budget_spec(rpm))
    grants: list[int] = []
    take_for(budget, until, grants)
    print(json.dumps(grants))


if __name__ == "__main__":
    main(sys.argv[1:])
