"""One console shared by the runner and its children: every line says who wrote it."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

RUNNER = "dev"


class Console:
    """Writes ``[name] line`` lines; names are padded so the output reads as columns."""

    def __init__(self, stream: TextIO | None = None, width: int = 11) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()  # child output comes from one thread per child
        self._width = width

    def line(self, name: str, text: str) -> None:
        label = f"[{name}]".ljust(self._width)
        with self._lock:
            try:
                self._stream.write(f"{label} {text}\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # a closed terminal must not stop the shutdown

    def say(self, text: str) -> None:
        """A line from the runner itself."""
        self.line(RUNNER, text)
