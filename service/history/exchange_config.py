"""An exchange row as history tasks need it, and its request budget column.

A module of its own (not ``service.db.repo``) because only the history side
reads ``requests_per_minute``; the CLI sets it through ``set_requests_per_minute``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db.models import Exchange
from service.errors import ValidationError
from service.history.budget import budget_spec
from service.history.client import ExchangeConfig


def load_exchange_config(session: Session, name: str) -> ExchangeConfig:
    """The row ``name``'s ccxt id, params and budget. Raises ValidationError when it is gone."""
    query = select(Exchange.ccxt_id, Exchange.ccxt_params, Exchange.requests_per_minute).where(
        Exchange.name == name
    )
    row = session.execute(query).first()
    if row is None:
        raise ValidationError(f"exchange {name!r} is not in the database")
    params: Any = row.ccxt_params if isinstance(row.ccxt_params, dict) else {}
    return ExchangeConfig(name, row.ccxt_id, params, row.requests_per_minute)


def check_requests_per_minute(value: int | None) -> int | None:
    """``value`` if it is a usable budget (at least 2), else ValidationError naming the option."""
    if value is None:
        return None
    try:
        budget_spec(value)
    except ValueError as exc:
        raise ValidationError(f"--requests-per-minute: {exc}") from exc
    return value


def set_requests_per_minute(session: Session, name: str, value: int | None) -> None:
    """Set (or clear, with None) the budget of exchange ``name``. Raises ValidationError."""
    check_requests_per_minute(value)
    done = session.execute(
        update(Exchange).where(Exchange.name == name).values(requests_per_minute=value)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise ValidationError(f"exchange {name!r} is not in the database")
