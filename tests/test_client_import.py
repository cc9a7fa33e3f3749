"""The client imports without the server side: no Dramatiq, APScheduler, SQLAlchemy or ccxt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SERVER_ONLY = ("dramatiq", "apscheduler", "sqlalchemy", "alembic", "ccxt", "aiohttp")


def loaded_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has loaded after running ``code``."""
    code += "\nimport json, sys\nprint(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_importing_ticker_client_loads_no_server_dependency() -> None:
    loaded = loaded_after("import ticker_client")

    assert "ticker_client" in loaded and "redis" in loaded
    assert loaded.isdisjoint(SERVER_ONLY), sorted(loaded & set(SERVER_ONLY))


def test_sqlalchemy_is_imported_only_by_the_first_history_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    setup = (
        "from ticker_client import SyncTickerClient, HistoryUnavailable\n"
        f"client = SyncTickerClient(database_url={url!r})\n"
        "rows = client.candles('binance', 'BTC/USDT')\n"
    )
    read = "try:\n    next(rows)\nexcept HistoryUnavailable:\n    pass\n"

    assert "sqlalchemy" not in loaded_after(setup)
    assert "sqlalchemy" in loaded_after(setup + read)


def test_help_gives_an_overview_with_a_quick_start() -> None:
    code = "import ticker_client; help(ticker_client)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    for words in (
        "Quick start", "TickerClient", "subscribe", "Gap", "health", "SyncTickerClient",
        "candles", "trades", "coverage", "DATABASE_URL", "SQLAlchemy", "HistoryNotConfigured",
        "issue 15",
    ):  # fmt: skip
        assert words in result.stdout


def test_every_public_call_has_a_docstring_with_an_example() -> None:
    import ticker_client
    from ticker_client.history_calls import HistoryCalls

    missing = []
    classes = (
        ticker_client.TickerClient,
        ticker_client.Subscription,
        ticker_client.SyncTickerClient,
        ticker_client.SyncSubscription,
        ticker_client.HistoryStream,
        HistoryCalls,
    )
    for cls in classes:
        for name, member in vars(cls).items():
            public = not name.startswith("_") and callable(getattr(cls, name))
            if public and "Example" not in (member.__doc__ or ""):
                missing.append(f"{cls.__name__}.{name}")
    assert missing == []
