"""The command line as a new user meets it, against the local stack over real sockets.

Before: no ``--version``; options without help; ``provision --dry-run`` failing on
missing credentials without saying it needs them; ``put``/``sync`` unable to target an
S3 origin (``--origin`` "unrecognized"); a 403 attempted once summarised as ``0
attempts``; edge refusals with no hint; ``keygen`` printing a bare-hex fingerprint; a
lower-case key id accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediastore_ingest import __version__
from mediastore_ingest.cli import _put as put_command
from mediastore_ingest.cli import build_parser, main
from mediastore_ingest.errors import AccessDeniedError
from mediastore_ingest.provisioning import IngestSetup
from mediastore_ingest.signing import generate_key_pair
from mediastore_ingest.testing import LocalStack


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# --- the parser ------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mediastore-ingest {__version__}"


def test_every_option_of_every_subcommand_has_help() -> None:
    parser = build_parser()
    commands = _subcommands(parser)
    assert {"put", "sync", "relay", "provision", "local-stack", "keygen"} <= set(commands)
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, sub in [("", parser), *sorted(commands.items())]
        for action in sub._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
        and not (action.help and action.help.strip())
    ]
    assert missing == []


def test_the_options_the_issue_named_have_help() -> None:
    commands = _subcommands(build_parser())

    def help_of(command: str, option: str) -> str:
        for action in commands[command]._actions:
            if option in action.option_strings:
                return action.help or ""
        raise AssertionError(f"{command} has no {option}")

    for option in ("--region", "--caller-reference", "--comment", "--price-class",
                   "--origin-read-timeout", "--origin-keepalive-timeout",
                   "--public-key-name", "--key-group-name"):
        command = "distribution-config" if option in (
            "--caller-reference", "--comment", "--origin-read-timeout",
            "--origin-keepalive-timeout") else "provision"
        assert help_of(command, option)
    assert help_of("distribution-config", "--price-class")
    for command in ("put", "sync", "relay"):
        assert "SHA1" in help_of(command, "--hash-algorithm")
        assert "s3" in help_of(command, "--origin").lower()
        assert help_of(command, "--setup")
    assert "credentials" in help_of("provision", "--dry-run")


def test_dry_run_without_credentials_says_it_needs_them(tmp_path: Path) -> None:
    generate_key_pair(None, tmp_path / "public.pem", algorithm="ecdsa")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", SECRET="s" * 40,
    )
    result = subprocess.run(
        [sys.executable, "-m", "mediastore_ingest", "provision", "--region", "us-west-2",
         "--container", "live", "--public-key", str(tmp_path / "public.pem"),
         "--secret-env", "SECRET", "--dry-run"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 1
    hint = [line for line in result.stderr.splitlines() if line.startswith("hint: ")]
    assert len(hint) == 1
    assert "read permissions" in hint[0]
    assert "--profile" in hint[0]


# --- put / sync against the local stack ------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    (media / "seg1.ts").write_bytes(b"\x47" * 1880)
    (media / "index.m3u8").write_bytes(b"#EXTM3U\n#EXTINF:2.0,\nseg1.ts\n")
    return media


@pytest.fixture
def key_file(tmp_path: Path) -> tuple[Path, object]:
    path = tmp_path / "private_key.pem"
    pair = generate_key_pair(path, algorithm="ecdsa")
    return path, pair


def _signed(stack: LocalStack, key: Path) -> list[str]:
    return ["--base-url", stack.ingest_base_url, "--key-id", stack.key_id,
            "--private-key", str(key), "--hash-algorithm", "SHA256"]


def test_a_403_attempted_once_counts_one_attempt_and_hints(
    files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStack() as stack:
        code = main(["put", str(files / "seg1.ts"), "--to", "live",
                     "--base-url", stack.ingest_base_url])
        assert len(stack.ingest_edge.requests) == 1
    out, err = capsys.readouterr()
    assert code == 1
    assert "0 of 1 files uploaded, 0 bytes, 1 attempt, 1 failed" in out
    assert "403 MissingKey" in err
    hints = [line for line in err.splitlines() if line.startswith("hint: ")]
    assert len(hints) == 1
    assert "--key-id and --private-key" in hints[0]
    assert "troubleshooting" in hints[0]
    assert "\x1b" not in err  # stderr is not a terminal: no escape codes


def test_a_wrong_private_key_hints_at_the_key(
    files: Path, key_file: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStack() as stack:  # its own key, not the one in key_file
        code = main(["put", str(files / "seg1.ts"), "--to", "live", "--quiet",
                     *_signed(stack, key_file[0])])
        key_id = stack.key_id
    out, err = capsys.readouterr()
    assert code == 1
    assert "1 attempt," in out
    hint = next(line for line in err.splitlines() if line.startswith("hint: "))
    assert key_id in hint
    assert "private key" in hint


def test_an_unknown_key_id_is_named(
    files: Path, key_file: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalStack() as stack:
        args = _signed(stack, key_file[0])
        args[args.index(stack.key_id)] = "KNOTINTHEGROUP"
        code = main(["put", str(files / "seg1.ts"), "--to", "live", "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 1
    assert "InvalidKey" in err
    hint = next(line for line in err.splitlines() if line.startswith("hint: "))
    assert "'KNOTINTHEGROUP'" in hint
    assert "key group" in hint


def test_a_lower_case_key_id_is_refused(
    files: Path, key_file: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["put", str(files / "seg1.ts"), "--to", "live", "--base-url",
                 "https://d1.example.net", "--key-id", "k2jcjmdehxqw5f",
                 "--private-key", str(key_file[0])])
    err = capsys.readouterr().err
    assert code == 2
    assert "upper-case" in err
    assert "'K2JCJMDEHXQW5F'" in err
    code = main(["sign-url", "https://d1.example.net/a.ts", "--key-id", "k1",
                 "--private-key", str(key_file[0]), "--expires", "+10m"])
    assert code == 2
    assert "upper-case" in capsys.readouterr().err


def test_put_and_sync_with_origin_s3(
    files: Path, key_file: tuple[Path, object], capsys: pytest.CaptureFixture[str]
) -> None:
    path, pair = key_file
    with LocalStack(origin="s3", key_pair=pair) as stack:  # type: ignore[arg-type]
        # without --origin s3: S3 refuses the PUT, and the hint says what to add
        code = main(["put", str(files / "seg1.ts"), "--to", "live", "--quiet",
                     *_signed(stack, path)])
        err = capsys.readouterr().err
        assert code == 1
        assert "XAmzContentSHA256Mismatch" in err
        assert "--origin s3" in next(line for line in err.splitlines() if line.startswith("hint:"))
        code = main(["put", str(files / "seg1.ts"), "--to", "live", "--origin", "s3",
                     *_signed(stack, path)])
        assert code == 0, capsys.readouterr()
        assert stack.bucket.read("live/seg1.ts") == (files / "seg1.ts").read_bytes()
        code = main(["sync", str(files), "--to", "vod", "--origin", "s3", "--quiet",
                     *_signed(stack, path)])
        assert code == 0
        assert stack.bucket.read("vod/index.m3u8") == (files / "index.m3u8").read_bytes()
    capsys.readouterr()


def test_put_with_a_setup_file(
    files: Path, key_file: tuple[Path, object], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, pair = key_file
    with LocalStack(origin="s3", key_pair=pair, edge_tls=True) as stack:  # type: ignore[arg-type]
        setup = IngestSetup(
            container_name="live-origin",
            container_arn="arn:aws:s3:::live-origin",
            container_endpoint=stack.origin_endpoint,
            region="us-west-2",
            public_key_id=stack.key_id,
            key_group_id="0a1b2c3d-1111-2222-3333-444455556666",
            ingest_distribution_id="E2EXAMPLE",
            ingest_distribution_domain=stack.ingest_base_url.split("://", 1)[1],
            origin="s3",
        )
        setup_file = tmp_path / "setup.json"
        setup_file.write_text(setup.to_json(), encoding="utf-8")
        code = main(["put", str(files / "seg1.ts"), "--to", "live", "--setup", str(setup_file),
                     "--private-key", str(path), "--hash-algorithm", "SHA256",
                     "--ca-bundle", stack.ca_bundle])
        out = capsys.readouterr().out
        assert code == 0, out
        assert "1 of 1 files uploaded" in out
        assert stack.bucket.read("live/seg1.ts") == (files / "seg1.ts").read_bytes()


def test_relay_takes_the_origin_from_the_setup(
    key_file: tuple[Path, object], tmp_path: Path
) -> None:
    from mediastore_ingest.cli import _relay

    setup = IngestSetup(
        container_name="live-origin", container_arn="arn:aws:s3:::live-origin",
        container_endpoint="https://live-origin.s3.us-west-2.amazonaws.com",
        region="us-west-2", public_key_id="K2JCJMDEHXQW5F",
        key_group_id="0a1b2c3d-1111-2222-3333-444455556666",
        ingest_distribution_id="E2EXAMPLE", ingest_distribution_domain="d1.cloudfront.net",
        origin="s3",
    )
    setup_file = tmp_path / "setup.json"
    setup_file.write_text(setup.to_json(), encoding="utf-8")
    args = build_parser().parse_args(
        ["relay", "--setup", str(setup_file), "--private-key", str(key_file[0]),
         "--listen", "127.0.0.1:0"]
    )
    relay = _relay._build(args)
    try:
        assert relay.client.config.origin == "s3"
        assert relay.client.base_url == "https://d1.cloudfront.net"
    finally:
        relay.client.close()


def test_an_error_with_a_hint_prints_a_hint_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused(args: argparse.Namespace) -> int:
        raise AccessDeniedError("PUT a.ts: HTTP 403", status=403, hint="check the key")

    monkeypatch.setattr(put_command, "_cmd_put", refused)
    code = main(["put", "a.ts", "--to", "live", "--base-url", "https://d1.example.net"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == ["mediastore-ingest: error: PUT a.ts: HTTP 403", "hint: check the key"]


def test_keygen_prints_a_sha256_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["keygen", "--algorithm", "ecdsa", "--out", str(tmp_path / "k.pem"),
                 "--public-out", str(tmp_path / "k.pub")])
    out = capsys.readouterr().out
    assert code == 0
    line = next(line for line in out.splitlines() if "fingerprint" in line)
    fingerprint = line.rsplit(" ", 1)[1]
    assert fingerprint.startswith("sha256:")
    assert len(fingerprint) == len("sha256:") + 64
    code = main(["keygen", "--algorithm", "ecdsa", "--out", str(tmp_path / "j.pem"),
                 "--public-out", str(tmp_path / "j.pub"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["fingerprint"]) == 64  # the JSON field stays the bare hex
