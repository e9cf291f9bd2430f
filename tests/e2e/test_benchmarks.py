"""Smoke tests: the benchmarks in ``benchmarks/`` run end to end with tiny sizes (no
timing checked)."""

from __future__ import annotations

import subprocess
import sys

from tests._support import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


def test_benchmark_runs_with_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "ingest.py"), "--seconds", "0.05", "--big-mb", "1",
         "--stream-mb", "2", "--many", "4"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    for part in ("(a) 4 KiB PUT/s", "botocore put_object", "(b) 1 MB PUT", "curl -T",
                 "(c) 2 MB generator upload", "(d) put_many 4 x 64 KiB, 8 worker(s)"):
        assert part in done.stdout


def test_relay_benchmark_runs_with_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "relay.py"), "--segments", "3", "--segment-kb", "4",
         "--renditions", "2", "--realtime", "2", "--seconds", "1"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    for part in ("(a) 3 x 4 KB segments", "ratio relay/direct", "(b) 2 renditions",
                 "real-time factor per rendition", "failures: 0", "(c) 2 renditions in real time",
                 "keeps up with 2 renditions in real time: yes", "0 left in the journal"):
        assert part in done.stdout
