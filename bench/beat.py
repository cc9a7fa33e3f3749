"""Scale of the beat: runs the beat engineer's ``bench/beat_scale.py`` and keeps its figures.

``beat_scale`` (100 exchanges x 1,000 symbols in Postgres: reconcile and
supervision pass times) is owned by the beat; this wrapper only runs it as a
subprocess, bounded in time, and stores its output (and its own JSON result,
when it writes ``bench/results/beat_scale.json``) with this suite's results.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, RedisSpace, goal

SCRIPT = Path(__file__).resolve().parent / "beat_scale.py"
OWN_RESULTS = RESULTS_DIR / "beat_scale.json"
TIMEOUT_S = {"full": 900.0, "quick": 600.0, "tiny": 120.0}
FLAGS = {
    "full": [],
    "quick": ["--quick"],
    # The smoke mode only proves the wiring: a small scale, one repeat.
    "tiny": ["--quick", "--exchanges", "3", "--symbols", "20", "--repeat", "1"],
}
GOAL_CASES = (
    ("reconcile_unchanged_repeated", "reconcile (100 x 1,000, nothing changed) ms", "reconcile"),
    ("supervise_all_pending", "supervision pass (all pending) ms", "supervise"),
    ("supervise_all_leased", "supervision pass (all leased) ms", "supervise"),
)


def run(space: RedisSpace, mode: str, logs: Path) -> dict[str, Any]:
    if not SCRIPT.exists():
        raise FileNotFoundError(f"{SCRIPT} is missing: the beat's scale benchmark is not in")
    argv = [sys.executable, "-m", "bench.beat_scale", *FLAGS[mode]]
    # beat_scale always writes bench/results/beat_scale.json: a smoke run must not
    # replace the real figures there.
    kept = OWN_RESULTS.read_text() if mode == "tiny" and OWN_RESULTS.exists() else None
    started = time.monotonic()
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S[mode])
        own = json.loads(OWN_RESULTS.read_text()) if done.returncode == 0 else None
    finally:
        if kept is not None:
            OWN_RESULTS.write_text(kept)
    if done.returncode != 0:
        raise RuntimeError(f"beat_scale exited with {done.returncode}: {done.stderr[-1000:]}")
    return {
        "argv": argv[1:],
        "returncode": done.returncode,
        "elapsed_s": round(time.monotonic() - started, 1),
        "stdout": done.stdout[-8000:],
        "beat_scale": own,
        "goals": _goals(own or {}),
        "table": _tables(done.stdout) or done.stdout[-3000:],
    }


def _goals(own: dict[str, Any]) -> list[dict[str, Any]]:
    limits = own.get("goals_ms", {})
    found = []
    if "reconcile_cold" in own and "reconcile" in limits:
        cold = own["reconcile_cold"]["total_ms"]
        found.append(goal("reconcile, cold start (all specs written) ms", cold, limits["reconcile"],
                          at_least=False))  # fmt: skip
    found += [
        goal(name, own[case]["max_ms"], limits[kind], at_least=False)
        for case, name, kind in GOAL_CASES
        if case in own and kind in limits
    ]
    return found


def _tables(text: str) -> str:
    """The Markdown-ish table lines of the script's output, if it printed any."""
    return "\n".join(line for line in text.splitlines() if re.match(r"^\s*\|", line))
