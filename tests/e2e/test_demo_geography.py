"""``demo --geography NAME``: the same segments direct and through the edge, each
beside the floor."""

from __future__ import annotations

import json

import pytest

from mediastore_ingest.cli import main
from mediastore_ingest.testing import GEOGRAPHIES


def test_the_geography_run_prints_direct_and_edge_beside_the_floor(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["demo", "--geography", "sao-paulo-us-west-2", "--segments", "2"])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.strip().startswith("segment"))
    for column in ("direct, new connection", "direct, keep-alive", "through the edge", "floor"):
        assert column in header
    rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2"]
    floor = GEOGRAPHIES["sao-paulo-us-west-2"].floor(375_000) * 1000
    for row in rows:
        assert len(row) == 5
        assert float(row[-1]) == pytest.approx(floor, abs=0.1)
        # nothing beats the floor (generous: the links only add delay)
        assert all(float(cell) >= floor * 0.95 for cell in row[1:4])
    assert any(line.strip().startswith("median") for line in lines)


def test_the_geography_run_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--geography", "same-region", "--segments", "1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["geography"] == "same-region"
    assert set(report["segments"][0]) == {"direct_new_connection", "direct_keep_alive", "edge"}
    assert report["floor_ms"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--geography", "atlantis"], "unknown geography"),
        (["--geography", "same-region", "--origin", "s3"], "--origin mediastore"),
        (["--geography", "same-region", "--segments", "0"], "--segments"),
    ],
)
def test_bad_geography_arguments(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", *argv]) == 2
    assert message in capsys.readouterr().err
