"""MediaStore object paths: every path the service's pattern allows is accepted, nothing else."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediastore_ingest.errors import (
    InvalidPathError,
)
from mediastore_ingest.ingest import (
    validate_path,
)

PATH_RE = r"(?:[A-Za-z0-9_.\-~]+/){0,10}[A-Za-z0-9_.\-~]+"


@given(st.from_regex(PATH_RE, fullmatch=True))
def test_every_mediastore_path_is_accepted(path: str) -> None:
    if len(path) <= 900 and not any(p in (".", "..") for p in path.split("/")):
        assert validate_path(path) == path
    else:
        with pytest.raises(InvalidPathError):
            validate_path(path)


@given(st.text(max_size=50))
def test_validate_path_agrees_with_the_regex(path: str) -> None:
    ok = re.fullmatch(PATH_RE, path) is not None and not any(
        p in (".", "..") for p in path.split("/")
    )
    if ok:
        validate_path(path)
    else:
        with pytest.raises(InvalidPathError):
            validate_path(path)
