"""Helpers the tests share (not fixtures: those are in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

#: The repository's root directory (README.md, docs/, benchmarks/).
REPO_ROOT = Path(__file__).resolve().parents[2]
#: Known-answer test vectors (see ``tests/vectors/README.md``).
VECTORS = REPO_ROOT / "tests" / "vectors"
