"""Every Python block in README.md runs, and the Quickstart has exactly two commands."""

from __future__ import annotations

import re

import pytest

from tests._support import REPO_ROOT

README = REPO_ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    exec(compile(BLOCKS[index], f"README.md[python block {index}]", "exec"), {})  # noqa: S102


def test_quickstart_has_the_two_commands():
    section = TEXT.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip()[2:] for line in section.splitlines() if line.startswith("    $ ")]
    assert commands == [
        "pip install . && mediastore-ingest demo",
        "pip install '.[test]' && python -m pytest",
    ]
