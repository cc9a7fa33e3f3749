"""``python -m service.simulator [options]``: the same as ``ticker-service simulate``."""

from __future__ import annotations

import sys

from service.cli import main

if __name__ == "__main__":
    sys.exit(main(["simulate", *sys.argv[1:]]))
