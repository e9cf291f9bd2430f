"""No raw Sphinx role (``:class:`…```, ``:meth:``, ``:func:``, ``:attr:``, …) in the
docs of the areas converted to mkdocstrings cross-references.

mkdocstrings renders such roles as text: the API reference showed about 200 of them.
The areas listed in ``AREAS`` are converted; the others are converted later, and join
the list then. The build itself runs with ``--strict``, so a cross-reference that does
not resolve fails it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj|py:\w+):`")
ROLE_IN_HTML = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj):(?:<code>|`)")
HEADING = re.compile(r'<h[1-6] id="(mediastore_ingest[\w.]*)"')

#: The areas whose docstrings are converted: (module prefix, source path).
AREAS = (("mediastore_ingest", "mediastore_ingest"),)


def _sources() -> list[Path]:
    found: list[Path] = []
    for _, where in AREAS:
        path = ROOT / where
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def test_no_raw_role_in_the_sources_of_the_converted_areas() -> None:
    raw = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE.search(line)
    ]
    assert raw == []


def _home_module(object_id: str) -> str:
    """The module that defines the object documented under ``object_id`` (a name
    re-exported by a package is documented under the package)."""
    parts = object_id.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        if cut == len(parts):
            return module.__name__
        obj = getattr(module, parts[cut], None)
        home = getattr(obj, "__module__", None)
        return home if isinstance(home, str) else module.__name__
    return object_id


def _in_area(object_id: str) -> bool:
    home = _home_module(object_id)
    return any(home == prefix or home.startswith(prefix + ".") for prefix, _ in AREAS)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("mkdocs") is None and importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (pip install .[docs])")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return out


@pytest.mark.slow
def test_the_reference_shows_no_raw_role_for_the_converted_areas(site: Path) -> None:
    html = "\n".join(
        page.read_text(encoding="utf-8") for page in sorted((site / "reference").rglob("*.html"))
    )
    headings = list(HEADING.finditer(html))
    assert headings, "the reference has no mkdocstrings objects"
    checked: set[str] = set()
    raw: list[str] = []
    for here, after in zip(headings, [*headings[1:], None], strict=False):
        object_id = here.group(1)
        if not _in_area(object_id):
            continue
        checked.add(object_id)
        chunk = html[here.end() : after.start() if after is not None else len(html)]
        raw += [f"{object_id}: {m.group(0)}" for m in ROLE_IN_HTML.finditer(chunk)]
    assert {"mediastore_ingest.ingest.IngestClient", "mediastore_ingest.errors"} <= checked
    assert "mediastore_ingest.ingest.Subscriber" in checked
    assert raw == []


@pytest.mark.slow
def test_the_guides_show_no_raw_role(site: Path) -> None:
    pages = [*sorted((site / "guides").rglob("index.html")), site / "index.html"]
    raw = [str(page.relative_to(site)) for page in pages
           if ROLE_IN_HTML.search(page.read_text(encoding="utf-8"))]
    assert raw == []
