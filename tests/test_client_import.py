"""The client imports without the server side: no Dramatiq, APScheduler, SQLAlchemy or ccxt."""

from __future__ import annotations

import json
import subprocess
import sys

SERVER_ONLY = ("dramatiq", "apscheduler", "sqlalchemy", "alembic", "ccxt", "aiohttp")


def test_importing_ticker_client_loads_no_server_dependency() -> None:
    code = (
        "import json, sys, ticker_client\n"
        "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(result.stdout))

    assert "ticker_client" in loaded and "redis" in loaded
    assert loaded.isdisjoint(SERVER_ONLY), sorted(loaded & set(SERVER_ONLY))


def test_help_gives_an_overview_with_a_quick_start() -> None:
    code = "import ticker_client; help(ticker_client)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    for words in ("Quick start", "TickerClient", "subscribe", "Gap", "health", "SyncTickerClient"):
        assert words in result.stdout


def test_every_public_call_has_a_docstring_with_an_example() -> None:
    import ticker_client

    missing = []
    classes = (
        ticker_client.TickerClient,
        ticker_client.Subscription,
        ticker_client.SyncTickerClient,
        ticker_client.SyncSubscription,
    )
    for cls in classes:
        for name, member in vars(cls).items():
            public = not name.startswith("_") and callable(getattr(cls, name))
            if public and "Example" not in (member.__doc__ or ""):
                missing.append(f"{cls.__name__}.{name}")
    assert missing == []
