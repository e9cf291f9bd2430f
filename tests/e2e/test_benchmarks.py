"""Smoke test: the ingest benchmark runs end to end with tiny sizes (no timing checked)."""

from __future__ import annotations

import subprocess
import sys

from tests._support import REPO_ROOT

BENCH = REPO_ROOT / "benchmarks" / "ingest.py"


def test_benchmark_runs_with_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--seconds", "0.05", "--big-mb", "1", "--stream-mb", "2",
         "--many", "4"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    for part in ("(a) 4 KiB PUT/s", "botocore put_object", "(b) 1 MB PUT", "curl -T",
                 "(c) 2 MB generator upload", "(d) put_many 4 x 64 KiB, 8 worker(s)"):
        assert part in done.stdout
