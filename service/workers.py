"""What ``dramatiq service.workers`` loads: the broker first, then the actors."""

from __future__ import annotations

from service.broker import setup_broker
from service.logs import configure_logging
from service.settings import Settings

_settings = Settings.from_env()
configure_logging(_settings.log_format, _settings.log_level)
setup_broker(_settings)

from service.actors import fetch_history, record_heartbeat, stream_exchange  # noqa: E402

__all__ = ["fetch_history", "record_heartbeat", "stream_exchange"]
