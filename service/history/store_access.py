"""The STORE helper's history store and ``load_wanted`` (issue 13), reached by name.

Until that branch is merged these modules are not on this one: they are
imported by name at call time so this branch imports and type-checks. At merge
the lead turns both into plain imports of ``service.history.store.HistoryStore``
and ``service.history.wanted.load_wanted``.
"""

from __future__ import annotations

import importlib
from typing import Any

from service.history.records import Wanted


def history_store(database_url: str) -> Any:
    """``HistoryStore(database_url)``: its own engine (pool); ``close()`` when done."""
    return importlib.import_module("service.history.store").HistoryStore(database_url)


def load_wanted(database_url: str, now_ms: int) -> list[Wanted]:
    """Every (exchange, symbol, stream) the enabled rows collect, with its since."""
    wanted: list[Wanted] = importlib.import_module("service.history.wanted").load_wanted(
        database_url, now_ms
    )
    return wanted
