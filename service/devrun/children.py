"""Child processes of the dev runner: output streamed with a prefix, one SIGTERM to stop.

Each child runs in a session of its own, so a Ctrl-C in the terminal reaches
only the runner, which then stops the children in order. That matters for the
Dramatiq worker: its main process forwards our SIGTERM to its worker
children, and a second SIGTERM there means "exit now, no cleanup".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from service.devrun.console import Console

Ready = Callable[[str], bool]


class Child:
    """One started process; ``ready`` picks the line that says it is ready (if any)."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        console: Console,
        *,
        ready: Ready | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._console = console
        self._ready = ready
        self._ready_event = threading.Event()
        self.ready_line: str | None = None
        self._signalled = False
        self.proc = subprocess.Popen(
            self.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._pump = threading.Thread(target=self._forward, name=f"out-{name}", daemon=True)
        self._pump.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _forward(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            text = raw.decode(errors="replace").rstrip("\r\n")
            if self._ready is not None and self.ready_line is None and self._ready(text):
                self.ready_line = text
                self._ready_event.set()
            self._console.line(self.name, text)
        self._ready_event.set()  # output closed: whoever waits must not wait in vain

    def wait_ready(self, timeout_s: float) -> str | None:
        """The ready line, or None when the child closed its output or the time ran out."""
        self._ready_event.wait(timeout_s)
        return self.ready_line

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def terminate(self) -> None:
        """Exactly one SIGTERM, to the pid (never the group): the child stops its own."""
        if not self._signalled and self.proc.poll() is None:
            self._signalled = True
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout_s: float) -> bool:
        """True when the child exited within ``timeout_s``."""
        try:
            self.proc.wait(max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            return False
        return True

    def kill(self) -> None:
        """SIGKILL the child's whole session group: a straggler's own children go too."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.wait(5)

    def close(self) -> None:
        """After the stop: let the output thread drain what is left."""
        self._pump.join(2)


def stop_stage(children: Sequence[Child], timeout_s: float, console: Console) -> None:
    """SIGTERM each child once, wait up to ``timeout_s`` for all, SIGKILL the stragglers."""
    for child in children:
        child.terminate()
    deadline = time.monotonic() + timeout_s
    for child in children:
        if not child.wait(deadline - time.monotonic()):
            console.say(f"{child.name} (pid {child.pid}) still runs after {timeout_s:g} s: SIGKILL")
        # Also after a clean exit: its group may hold a grandchild it left behind.
        child.kill()
        child.close()
