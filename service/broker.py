"""The Dramatiq broker, set up before any actor module is imported.

``setup_broker()`` is idempotent: ``service.workers`` and ``ticker-scheduler``
call it first, tests may install a StubBroker instead.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO

from service.log_context import LogContext
from service.redis_client import sync_client
from service.settings import Settings
from service.shutdown import WorkerShutdown

_broker: dramatiq.Broker | None = None


def build_broker(settings: Settings) -> RedisBroker:
    # The client comes from the one factory, so a redis+sentinel:// URL works here too:
    # RedisBroker(url=...) only knows single servers. Its Lua scripts are registered
    # on this client and reloaded by redis-py on a promoted master that lacks them.
    client = sync_client(settings.redis_url)
    broker = RedisBroker(client=client, namespace=settings.dramatiq_namespace)
    add_service_middleware(broker)
    return broker


def add_service_middleware(broker: dramatiq.Broker) -> None:
    """What the service's actors need of any broker (tests add it to a StubBroker):
    an event loop for the stream jobs, actor/job context on every log line, and
    the worker's stop."""
    broker.add_middleware(AsyncIO())
    broker.add_middleware(LogContext())
    broker.add_middleware(WorkerShutdown())


def setup_broker(settings: Settings | None = None) -> dramatiq.Broker:
    """Build the Redis broker from the settings once and make it the global broker."""
    global _broker
    if _broker is None:
        _broker = build_broker(settings or Settings.from_env())
        dramatiq.set_broker(_broker)
    return _broker


def use_broker(broker: dramatiq.Broker) -> None:
    """Install another broker (a StubBroker in tests) before actors are imported."""
    global _broker
    _broker = broker
    dramatiq.set_broker(broker)
