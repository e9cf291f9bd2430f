"""Smoke test: the relay benchmark runs end to end with tiny sizes (no timing checked)."""

from __future__ import annotations

import subprocess
import sys

from tests._support import REPO_ROOT

BENCH = REPO_ROOT / "benchmarks" / "relay.py"


def test_relay_benchmark_runs_with_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--segments", "3", "--segment-kb", "4", "--renditions", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    for part in ("(a) 3 x 4 KB segments", "ratio relay/direct", "(b) 2 renditions",
                 "real-time factor per rendition", "failures: 0"):
        assert part in done.stdout
