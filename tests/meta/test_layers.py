"""The layer contract (``[tool.importlinter]`` in pyproject.toml): ``lint-imports`` passes
on the package, and fails, naming the contract, on a copy given one upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support import REPO_ROOT

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli on 3.10")


def _lint_imports() -> str | None:
    beside_python = Path(sys.executable).with_name("lint-imports")
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("lint-imports")


LINT_IMPORTS = _lint_imports()
pytestmark = pytest.mark.skipif(
    LINT_IMPORTS is None,
    reason="lint-imports (import-linter) is not installed; it is in the test extra: "
    "pip install '.[test]'",
)


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with ``root``'s pyproject.toml, importing the package from ``root``."""
    assert LINT_IMPORTS is not None
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def layers_contract() -> str:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (name,) = (c["name"] for c in contracts if c["type"] == "layers")
    return str(name)


def test_the_package_keeps_its_layers() -> None:
    result = lint(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{layers_contract()} KEPT" in result.stdout


def test_an_upward_import_breaks_the_layers_contract(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "mediastore_ingest", copy / "mediastore_ingest",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", copy / "pyproject.toml")
    policy = copy / "mediastore_ingest" / "signing" / "policy.py"
    policy.write_text(policy.read_text(encoding="utf-8")
                      + "\nimport mediastore_ingest.cli  # signing must not know the CLI\n",
                      encoding="utf-8")
    result = lint(copy)
    assert result.returncode != 0, result.stdout
    assert f"{layers_contract()} BROKEN" in result.stdout
    assert "mediastore_ingest.signing.policy -> mediastore_ingest.cli" in result.stdout
