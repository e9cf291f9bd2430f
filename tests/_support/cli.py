"""Running ``mediastore-ingest`` in process, through the real command frame."""

from __future__ import annotations

import pytest

from mediastore_ingest.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the command line with ``argv``; its exit code, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected_code: int = 2) -> None:
    """The command failed the way every command fails: one ``error:`` line, no traceback."""
    assert code == expected_code, err
    assert "Traceback" not in err
    assert err.startswith("mediastore-ingest: error: "), err
    assert err.count("\n") == 1, err
