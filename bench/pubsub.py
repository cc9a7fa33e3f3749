"""A Redis pub/sub channel read in a daemon thread, for benchmarks that time tick batches."""

from __future__ import annotations

import threading

import redis


class ChannelListener:
    """Hands every message published on ``channel`` to ``on_message`` until ``close``.

    Subclasses set their own fields before calling ``__init__``: the thread starts there.
    """

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def on_message(self, data: bytes) -> None:
        """One published payload (a JSON list of ticks), called on the listener thread."""
        raise NotImplementedError

    def _listen(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.2)
            if message is not None:
                self.on_message(message["data"])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.pubsub.close()
