"""Listening for edits: a loop that connects, hears notices and reconnects with backoff.

A source (``RedisWakeups`` here, ``service.beat.pg_listen.PostgresEdits``)
opens a dedicated connection; ``listen`` polls it and hands every notice to
``wake``. When the server goes away the loop logs it, waits a capped,
jittered backoff and connects again, so an outage never stops the beat. After
a reconnect it wakes the beat once, since notices sent meanwhile are lost.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Protocol

import redis

from service.keys import Keys
from service.logs import get_logger, redact_text
from service.redis_client import sync_client
from workers.backoff import Backoff
from workers.redis_text import text

log = get_logger(__name__)

POLL_S = 1.0
# Notices are hints, so a dead Redis connection is found by a ping this often.
HEALTH_CHECK_S = 10
CONNECT_TIMEOUT_S = 5.0

Wake = Callable[[str], None]


class Listening(Protocol):
    """An open, listening connection."""

    def poll(self, timeout_s: float) -> list[str]:
        """The notices heard within ``timeout_s`` (as reasons); raises when the link is lost."""
        ...

    def close(self) -> None: ...


class Source(Protocol):
    """Where notices come from; ``connect`` raises when the server is away."""

    name: str

    def connect(self) -> Listening: ...


def new_backoff() -> Backoff:
    """From half a second up to 30 s between attempts."""
    return Backoff(base_s=0.5, cap_s=30.0, healthy_after_s=30.0)


def listen(source: Source, wake: Wake, stop: threading.Event) -> None:
    """Hear ``source`` until ``stop`` is set, reconnecting forever (a thread's target)."""
    backoff = new_backoff()
    lost = False
    while not stop.is_set():
        try:
            listening = source.connect()
        except Exception as exc:
            lost = _failed(source, "connect", exc, backoff.attempts)
            stop.wait(backoff.next_delay())
            continue
        if lost:
            log.info("beat listening again", source=source.name)
            wake(f"{source.name} reconnected")
        else:
            log.info("beat listening", source=source.name)
        lost = _serve(source, listening, wake, stop, backoff)
        if lost:
            stop.wait(backoff.next_delay())


def _serve(
    source: Source, listening: Listening, wake: Wake, stop: threading.Event, backoff: Backoff
) -> bool:
    """Poll until ``stop`` (False) or a lost connection (True)."""
    try:
        while not stop.is_set():
            for reason in listening.poll(POLL_S):
                wake(reason)
            backoff.healthy()
        return False
    except Exception as exc:
        return _failed(source, "listen", exc, backoff.attempts)
    finally:
        try:
            listening.close()
        except Exception as exc:  # closing a dead connection may fail too
            log.debug("beat listener close failed", source=source.name, error=str(exc))


def _failed(source: Source, step: str, exc: Exception, attempts: int) -> bool:
    log.warning(
        "beat listener lost",
        source=source.name,
        step=step,
        attempt=attempts + 1,
        error=redact_text(f"{type(exc).__name__}: {exc}"),
    )
    return True


class RedisWakeups:
    """The ``beat_wakeup`` channel the CLI publishes on after each edit."""

    name = "redis"

    def __init__(self, url: str, keys: Keys) -> None:
        self.url = url
        self.channel = keys.beat_wakeup()

    def connect(self) -> _RedisListening:
        client = sync_client(
            self.url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=CONNECT_TIMEOUT_S,
            health_check_interval=HEALTH_CHECK_S,
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
        except BaseException:
            pubsub.close()
            client.close()
            raise
        return _RedisListening(client, pubsub)


class _RedisListening:
    def __init__(self, client: redis.Redis, pubsub: redis.client.PubSub) -> None:
        self.client = client
        self.pubsub = pubsub

    def poll(self, timeout_s: float) -> list[str]:
        reasons = []
        message = self.pubsub.get_message(timeout=timeout_s)
        while message is not None:
            if message.get("type") == "message":
                reasons.append(_reason(message.get("data")))
            message = self.pubsub.get_message(timeout=0)
        return reasons

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


def _reason(data: bytes | str | None) -> str:
    """The ``reason`` of a wake-up payload; any other payload still wakes the beat."""
    try:
        payload = json.loads(text(data) or "")
        return str(payload["reason"])[:200]
    except (ValueError, TypeError, KeyError):
        return "wake-up"
