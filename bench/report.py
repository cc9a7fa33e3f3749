"""Print the Markdown of the latest results: ``python -m bench.report [--results-dir DIR]``.

For each ``bench/results/<name>.json``: the command, date and machine, the
table and the goals, ready to paste into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR

ORDER = ("throughput", "sustained", "latency", "beat", "recovery", "memory")


def section(payload: dict[str, Any]) -> str:
    machine = payload.get("machine", {})
    lines = [
        f"### {payload['name']} ({payload.get('mode', '?')})",
        "",
        f"`{payload.get('command', '')}` - {machine.get('date', '?')}, "
        f"{machine.get('cores', '?')} cores {machine.get('cpu_model', '?')}, "
        f"load at start {', '.join(f'{x:.1f}' for x in machine.get('loadavg_at_start', []))}, "
        f"{payload.get('elapsed_s', '?')} s",
        "",
        payload.get("table") or f"error: {payload.get('error')}",
        "",
    ]
    for item in payload.get("goals", []):
        verdict = "met" if item["met"] else "**not met**"
        lines.append(f"- {item['goal']}: {item['value']:.4g} (goal {item['limit']:g}): {verdict}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    found = {p.stem: p for p in args.results_dir.glob("*.json") if p.stem in ORDER}
    first = next((found[n] for n in ORDER if n in found), None)
    if first is None:
        print(f"no results in {args.results_dir}", file=sys.stderr)
        return 1
    machine = json.loads(first.read_text())["machine"]
    print("Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + "\n")
    for name in ORDER:
        if name in found:
            print(section(json.loads(found[name].read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
