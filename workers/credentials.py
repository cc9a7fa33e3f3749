"""Exchange credentials: from the environment only, never from the database."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

# ccxt constructor key -> our environment suffix.
_FIELDS = {"apiKey": "API_KEY", "secret": "SECRET", "password": "PASSWORD"}


def env_prefix(exchange_name: str) -> str:
    """``binance-eu`` -> ``BINANCE_EU``: the prefix of that exchange's variables."""
    return re.sub(r"[^A-Z0-9]", "_", exchange_name.upper())


def credentials_from_env(
    exchange_name: str, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """ccxt credential config from ``{NAME}_API_KEY``, ``{NAME}_SECRET``, ``{NAME}_PASSWORD``."""
    env = os.environ if env is None else env
    prefix = env_prefix(exchange_name)
    found = {key: env.get(f"{prefix}_{suffix}", "") for key, suffix in _FIELDS.items()}
    return {key: value for key, value in found.items() if value}
