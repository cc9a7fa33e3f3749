"""``ticker-service dev``: the whole service on one machine, from one command.

It finds or starts a Redis, migrates the database, seeds (or refreshes) two
simulated demo exchanges and starts their simulators, then a Dramatiq worker,
the beat and the web process as children whose output it prefixes and
streams. Ctrl-C or SIGTERM stops them all in order; a child that dies stops
the run with exit code 1.

Modules: ``runner`` (the run), ``main`` (signals, exit code), ``children``
(one process), ``redis_server``, ``simulators``, ``seed`` (demo rows),
``commands`` (command lines and env), ``ticking``, ``banner``, ``ports``,
``console``.
"""

from __future__ import annotations

from service.devrun.main import run_dev
from service.devrun.runner import DevOptions

__all__ = ["DevOptions", "run_dev"]
