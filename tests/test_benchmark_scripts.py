"""The benchmark scripts run (timings are never asserted: only that each script completes, checks
its own event counts and prints its table). ab.py is pointed at this very checkout, so old and
new are the same code and must count the same events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_ab_compares_two_checkouts_row_by_row() -> None:
    out = _run("benchmarks/ab.py", "--against", str(ROOT), "--quick", "--rounds", "1", "--slices", "64")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "MB/s" not in line and "→" in line]
    names = {line.split("|")[2].strip() for line in rows}
    assert {
        "SSEParser.feed",
        "receive_data/next_event",
        "iter_sse",
        "NDJSONParser.feed",
        "decode_stream",
    } <= names
    assert "worst cell" in out


def test_routes_lists_every_route() -> None:
    out = _run("benchmarks/routes.py", "--quick", "--rounds", "1", "--slices", "64")
    header = out.splitlines()[0]
    for route in ("_fresh_blocks", "small_lines", "data_run", "uniform_blocks", "routes=False"):
        assert route in header
    assert sum(1 for line in out.splitlines() if line.startswith("| ") and " 64 B " in line) == 3
