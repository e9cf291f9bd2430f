"""``mediastore-ingest probe`` against the local stack with long links: it reports the
round trips the links were given (within 15%), the POP, keep-alive and TLS
resumption, cleans up after itself, and exits 1 with the troubleshooting hint when
the edge refuses the signature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mediastore_ingest.cli import main
from mediastore_ingest.signing.keys import generate_key_pair
from mediastore_ingest.testing import DEFAULT_CREDENTIALS, Geography, LocalStack

GEO = Geography("probe", encoder_edge_rtt=0.06, edge_origin_rtt=0.04, encoder_origin_rtt=0.1)


@pytest.fixture(scope="module")
def geo_stack() -> Iterator[LocalStack]:
    with LocalStack(geography=GEO, edge_tls=True) as running:
        yield running


def _pem(path: Path, private_key: object) -> str:
    path.write_bytes(
        private_key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def _args(stack: LocalStack, key_file: str, *extra: str) -> list[str]:
    return [
        "probe", "--base-url", stack.ingest_base_url, "--path", "live/probe/probe.bin",
        "--key-id", stack.key_id, "--private-key", key_file, "--hash-algorithm", "SHA256",
        "--ca-bundle", stack.ca_bundle, "--rounds", "3", "--segments", "2",
        "--concurrency", "2", "--segment-size", "100000", *extra,
    ]


def test_probe_reports_the_links_round_trips(
    geo_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    access_key, secret_key = next(iter(DEFAULT_CREDENTIALS.items()))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    key_file = _pem(tmp_path / "key.pem", geo_stack.key_pair.private_key)
    code = main(_args(
        geo_stack, key_file, "--json", "--direct-endpoint", geo_stack.direct_origin_endpoint,
        "--direct-upload", "--region", "us-west-2",
    ))
    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(out)
    edge, origin = report["edge"], report["origin"]
    assert edge["rtt_ms"] == pytest.approx(60, rel=0.15)
    assert origin["rtt_ms"] == pytest.approx(100, rel=0.15)
    # a signed request goes on to the origin: encoder -> edge -> origin
    assert edge["head_first_byte_ms"] == pytest.approx(100, rel=0.15)
    assert edge["pop"] == geo_stack.ingest_edge.pop
    assert edge["x_cache"] == "Miss from cloudfront"
    assert edge["keep_alive"] is True
    assert edge["connections"] == 1
    assert edge["tls_version"] == "TLSv1.3"
    assert edge["tls_resumed"] is True
    assert edge["segments"] == origin["segments"] == 2
    assert edge["throughput_mbit_s"] > 0
    # everything it wrote is gone
    assert not [p for p in geo_stack.container.paths() if p.startswith("live/probe/")]


def test_probe_prints_a_side_by_side_table(
    geo_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = _pem(tmp_path / "key.pem", geo_stack.key_pair.private_key)
    code = main(_args(geo_stack, key_file, "--direct-endpoint", geo_stack.direct_origin_endpoint))
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[0] == "edge"
    assert "origin" in lines[0]
    assert any(line.startswith("round trip") for line in lines)
    assert any(line.startswith("POP") and geo_stack.ingest_edge.pop in line for line in lines)
    assert "connect() returned well before one round trip" in out


def test_probe_exits_1_when_the_edge_refuses_the_signature(
    geo_stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = generate_key_pair()
    key_file = _pem(tmp_path / "other.pem", stranger.private_key)
    code = main(_args(geo_stack, key_file, "--segments", "0"))
    err = capsys.readouterr().err
    assert code == 1
    assert "the edge refused the signature" in err
    assert "docs/guides/troubleshooting.md" in err


def test_probe_checks_its_numbers(geo_stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["probe", "--base-url", geo_stack.ingest_base_url, "--path", "p", "--rounds", "0"])
    assert code == 2
    assert "--rounds" in capsys.readouterr().err
