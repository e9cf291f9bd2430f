"""Smoke test: the relay benchmark runs end to end with tiny sizes (no timing checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "relay.py"


def test_relay_benchmark_runs_with_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--segments", "3", "--segment-kb", "4", "--renditions", "2",
         "--realtime", "2", "--seconds", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    for part in ("(a) 3 x 4 KB segments", "ratio relay/direct", "(b) 2 renditions",
                 "real-time factor per rendition", "failures: 0", "(c) 2 renditions in real time",
                 "keeps up with 2 renditions in real time: yes", "0 left in the journal"):
        assert part in done.stdout
