"""The parts of a worker process's ``HistoryWorker``, built once per process from settings."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from service.db.engine import make_engine, make_sessionmaker
from service.db.session import session_scope
from service.history.client import ExchangeConfig
from service.history.exchange_config import load_exchange_config
from service.history.job import HistoryWorker
from service.history.store_access import history_store
from service.keys import Keys
from service.redis_client import sync_client
from service.settings import Settings


@lru_cache(maxsize=1)
def history_worker(settings: Settings) -> HistoryWorker:
    """This process's history worker (one store, one Redis client, for every thread)."""
    sessions = make_sessionmaker(make_engine(settings.database_url))
    return HistoryWorker(
        client=sync_client(settings.redis_url),
        keys=Keys(settings.key_prefix),
        store=history_store(settings.database_url),
        load_config=lambda name: _load_config(sessions, name),
        pages_per_task=settings.history_pages_per_task,
        marker_ttl_s=settings.history_task_ttl_s,
    )


def _load_config(sessions: sessionmaker[Session], name: str) -> ExchangeConfig:
    with session_scope(sessions, action=f"history: exchange {name}") as session:
        return load_exchange_config(session, name)
