"""Every code block in docs/ runs.

Per page, in document order and in one temporary directory:

- ```python blocks are executed in one namespace (later blocks see earlier names); a
  block whose first line is ``# file: test_<name>.py`` is written to that file and run
  with pytest in a subprocess instead (the pytest-plugin examples).
- ```console blocks: each ``$ mediastore-ingest …`` command is run through the real
  command frame and must exit 0 (``\\`` continues a line).
- ```json blocks must parse.
- ```sh blocks are commands for tools outside this package talking to AWS (``aws``,
  ``ffmpeg`` against a real distribution); they are shown, not run. The ffmpeg
  invocations themselves are exercised against the local stack in the encoder tests.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mediastore_ingest.cli import main
from tests._support import REPO_ROOT

DOCS = REPO_ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md"))
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _commands(block: str) -> list[str]:
    joined = block.replace("\\\n", " ")
    return [line.strip()[2:] for line in joined.splitlines() if line.strip().startswith("$ ")]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for index, match in enumerate(FENCE.finditer(page.read_text(encoding="utf-8"))):
        lang, body = match.group(1), match.group(2)
        where = f"{page.name} block {index}"
        if lang == "python":
            first = body.splitlines()[0] if body.strip() else ""
            if first.startswith("# file: "):
                name = first[len("# file: ") :].strip()
                (tmp_path / name).write_text(body, encoding="utf-8")
                result = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", name],
                    cwd=tmp_path, capture_output=True, text=True, timeout=120,
                )
                assert result.returncode == 0, f"{where}:\n{result.stdout}\n{result.stderr}"
            else:
                exec(compile(body, where, "exec"), namespace)  # noqa: S102
        elif lang == "console":
            for command in _commands(body):
                argv = shlex.split(command)
                assert argv[0] == "mediastore-ingest", f"{where}: only our command runs: {command}"
                code = main(argv[1:])
                assert code == 0, f"{where}: {command} exited {code}"
        elif lang == "json":
            json.loads(body)


def test_every_page_is_in_the_nav() -> None:
    nav = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    for page in PAGES:
        assert str(page.relative_to(DOCS)) in nav, f"{page} is not in mkdocs.yml nav"
