"""The signing modules' docstrings render in the API reference (mkdocstrings): no raw
Sphinx roles, which it would print as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mediastore_ingest.signing

SIGNING = Path(mediastore_ingest.signing.__file__).parent
ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|exc|obj|py:\w+):`")


@pytest.mark.parametrize("path", sorted(SIGNING.glob("*.py")), ids=lambda p: p.name)
def test_no_raw_sphinx_role(path: Path) -> None:
    found = [
        f"{path.name}:{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLE.search(line)
    ]
    assert not found, "\n".join(found)


def test_cross_references_name_public_objects() -> None:
    """Each ``[text][mediastore_ingest.signing.X]`` names something that exists."""
    import importlib

    link = re.compile(r"\]\[(mediastore_ingest(?:\.\w+)+)\]")
    for path in sorted(SIGNING.glob("*.py")):
        for target in link.findall(path.read_text(encoding="utf-8")):
            module, _, rest = target.partition(".")
            obj: object = importlib.import_module(module)
            parts = rest.split(".")
            for i, part in enumerate(parts):
                if hasattr(obj, part):
                    obj = getattr(obj, part)
                else:
                    obj = importlib.import_module(".".join([module, *parts[: i + 1]]))
            assert obj is not None, target
