"""``mediastore-ingest demo``: the whole workflow on the local stack, through the CLI frame."""

from __future__ import annotations

import json
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from mediastore_ingest.cli import build_parser, main
from mediastore_ingest.iam.document import ContainerPolicy
from mediastore_ingest.signing.keys import load_private_key, load_public_key
from mediastore_ingest.testing import LocalEdge
from tests._support.cli import assert_one_line_error, run


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["demo", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_demo_is_listed_first() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert next(iter(sub.choices)) == "demo"  # type: ignore[arg-type]


def test_demo_passes_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--no-ffmpeg", "--segments", "3")
    assert code == 0, out + err
    lines = out.splitlines()
    numbered = [line for line in lines if line[:3].strip().rstrip(".").isdigit()]
    assert len(numbered) == 15
    assert all("✓" in line for line in numbered), numbered
    assert "All 15 steps behaved as expected" in out
    for text in (
        "Lint catches the insecure intermediate policy",
        "[public-write]",
        "3 segments",
        "synthetic TS-like packets (--no-ffmpeg)",
        "6 signed PUTs",
        "SHA-256 identical to what was sent",
        "HTTP 403 MissingKey",
        "HTTP 403 AccessDenied (PolicyExpiredError)",
        "HTTP 403 AccessDenied (SignatureMismatchError)",
        "HTTP 403 InvalidKey (UnknownKeyIdError)",
        "HTTP 403 AccessDeniedException",
        "HTTP 403 MethodNotAllowed",
    ):
        assert text in out, text


def test_demo_never_prints_a_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediastore_ingest.iam.secret import IngestSecret

    made: list[IngestSecret] = []
    real = IngestSecret.generate.__func__  # type: ignore[attr-defined]

    def spy(cls: type[IngestSecret], *args: Any, **kwargs: Any) -> IngestSecret:
        secret: IngestSecret = real(cls, *args, **kwargs)
        made.append(secret)
        return secret

    monkeypatch.setattr(IngestSecret, "generate", classmethod(spy))
    code, out, err = _run(capsys, "--no-ffmpeg", "--segments", "1")
    assert code == 0
    assert len(made) >= 2
    for secret in made:
        assert secret.value not in out + err


def test_demo_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--no-ffmpeg", "--segments", "2", "--json")
    assert code == 0
    report = json.loads(out)  # nothing but the JSON on stdout
    assert report["ok"] is True
    assert report["media_source"] == "synthetic"
    assert [s["number"] for s in report["steps"]] == list(range(1, 16))
    assert all(s["ok"] for s in report["steps"])
    assert report["elapsed_seconds"] < 30


def test_demo_keep_writes_keys_and_policies(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keep = tmp_path / "kept"
    code, out, _ = _run(capsys, "--no-ffmpeg", "--segments", "1", "--keep", str(keep),
                        "--key-algorithm", "rsa")
    assert code == 0, out
    private = load_private_key(keep / "private_key.pem")
    public = load_public_key(keep / "public_key.pem")
    assert private.public_key().public_numbers() == public.public_numbers()  # type: ignore[union-attr]
    assert "RSA-2048" in out
    key_id = (keep / "key_id.txt").read_text().strip()
    assert key_id in out
    assert stat.S_IMODE((keep / "private_key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((keep / "container_policy.json").stat().st_mode) == 0o600
    policy = ContainerPolicy.from_json((keep / "container_policy.json").read_text())
    assert [s.sid for s in policy.statements] == [
        "MediaStoreFullAccess", "CloudFrontIngest", "CloudFrontPlayback"
    ]
    insecure = ContainerPolicy.from_json((keep / "insecure_policy.json").read_text())
    assert "public-write" in {f.code for f in insecure.findings()}


def test_a_wrong_injected_secret_makes_the_demo_fail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_init = LocalEdge.__init__

    def wrong_secret(self: LocalEdge, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("name") == "ingest":
            kwargs["origin_headers"] = {"User-Agent": "MediaStore-Secret-" + "W" * 40}
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(LocalEdge, "__init__", wrong_secret)
    code, out, _ = _run(capsys, "--no-ffmpeg", "--segments", "2")
    assert code == 1
    failed = [line for line in out.splitlines() if "✗" in line]
    assert any("Push the stream through the ingest edge" in line for line in failed)
    assert any("Read the stream back" in line for line in failed)
    assert "AccessDeniedError" in out
    assert "did NOT behave as expected" in out


def test_a_lint_that_misses_the_public_write_fails_the_demo(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ContainerPolicy, "findings", lambda self, **kw: ())
    code, out, _ = _run(capsys, "--no-ffmpeg", "--segments", "1", "--json")
    assert code == 1
    report = json.loads(out)
    assert [s["number"] for s in report["steps"] if not s["ok"]] == [3]


def test_demo_with_ffmpeg_on_path(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A stand-in ffmpeg (records its arguments, writes an HLS playlist and segments):
    the demo must call it as documented and upload what it produced."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "args.json"
    fake = bin_dir / "ffmpeg"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import json, sys, pathlib\n"
        f"pathlib.Path({str(log)!r}).write_text(json.dumps(sys.argv[1:]))\n"
        "args = sys.argv[1:]\n"
        "pattern = args[args.index('-hls_segment_filename') + 1]\n"
        "playlist = pathlib.Path(args[-1])\n"
        "lines = ['#EXTM3U', '#EXT-X-TARGETDURATION:1']\n"
        "for i in range(3):\n"
        "    seg = pathlib.Path(pattern % i)\n"
        "    seg.write_bytes(bytes([0x47]) + bytes(187) * 10 + bytes([i]))\n"
        "    lines += ['#EXTINF:1.000000,', seg.name]\n"
        "playlist.write_text('\\n'.join(lines + ['#EXT-X-ENDLIST']) + '\\n')\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    code, out, _ = _run(capsys, "--segments", "3", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["media_source"] == "ffmpeg"
    args = json.loads(log.read_text())
    assert args[args.index("-i") + 1].startswith("testsrc=")
    assert "duration=3" in args[args.index("-i") + 1]
    assert args[args.index("-f", args.index("-i")) + 1] == "hls"


def test_demo_falls_back_when_ffmpeg_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text(f"#!{sys.executable}\nimport sys\nsys.exit(1)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, _ = _run(capsys, "--segments", "2")
    assert code == 0, out
    assert "ffmpeg failed" in out


def test_segments_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--segments", "0")
    assert code == 2
    assert "--segments" in err


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_demo_with_the_real_ffmpeg(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--segments", "2", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["media_source"] == "ffmpeg"
    assert "ffmpeg testsrc" in report["steps"][5]["detail"]


# --- --origin s3: the same story onto a bucket behind Origin Access Control --------------


def test_demo_s3_passes_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "--origin", "s3", "--no-ffmpeg", "--segments", "3")
    assert code == 0, out + err
    numbered = [line for line in out.splitlines() if line[:3].strip().rstrip(".").isdigit()]
    assert len(numbered) == 17
    assert all("✓" in line for line in numbered), numbered
    assert "All 17 steps behaved as expected" in out
    for text in (
        "onto an S3 bucket with Origin Access Control",
        "[public-write]",
        "statements: CloudFrontIngest, CloudFrontPlayback, DenyInsecureTransport",
        "6 signed PUTs",
        "the bucket's ETag (MD5) matched every object",
        "6 PUTs reached the bucket over HTTPS, 6 SigV4-signed by the ingest distribution's "
        "OAC, 6 with the body's SHA-256 as x-amz-content-sha256",
        "SHA-256 identical to what was sent",
        "HTTP 403 MissingKey",
        "HTTP 403 InvalidKey (UnknownKeyIdError)",
        "Direct unsigned PUT to the bucket is refused by the bucket policy\n"
        "      HTTP 403 AccessDenied; nothing stored",
        "A write signed as the playback distribution is refused by the bucket policy\n"
        "      HTTP 403 AccessDenied; nothing stored",
        "HTTP 400 XAmzContentSHA256Mismatch; nothing stored",
        "HTTP 411 MissingContentLength; nothing stored",
        "HTTP 403 MethodNotAllowed",
    ):
        assert text in out, text
    assert "MediaStore-Secret-" not in out


def test_demo_s3_json_never_prints_oac_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediastore_ingest.testing import _stack

    made: list[Any] = []
    real = _stack._new_origin_access

    def spy(region: str) -> Any:
        access = real(region)
        made.append(access)
        return access

    monkeypatch.setattr(_stack, "_new_origin_access", spy)
    code, out, err = _run(capsys, "--origin", "s3", "--no-ffmpeg", "--segments", "1", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True
    assert report["origin"] == "s3"
    assert [s["number"] for s in report["steps"]] == list(range(1, 18))
    assert len(made) == 2
    for access in made:
        assert access.secret_access_key not in out + err
        assert access.access_key_id not in out + err


def test_demo_s3_keep_writes_the_bucket_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from mediastore_ingest.origins.s3 import BucketPolicy

    code, out, _ = _run(capsys, "--origin", "s3", "--no-ffmpeg", "--segments", "1",
                        "--keep", str(tmp_path))
    assert code == 0, out
    policy = BucketPolicy.from_json((tmp_path / "bucket_policy.json").read_text())
    assert [s.sid for s in policy.statements] == [
        "CloudFrontIngest", "CloudFrontPlayback", "DenyInsecureTransport"
    ]
    insecure = BucketPolicy.from_json((tmp_path / "insecure_policy.json").read_text())
    assert "public-write" in {f.code for f in insecure.findings()}
    assert not (tmp_path / "container_policy.json").exists()


def test_a_bucket_ignoring_its_policy_makes_the_s3_demo_fail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediastore_ingest.testing import LocalBucket

    monkeypatch.setattr(LocalBucket, "_decide", lambda self, *args: (True, "ignored"))
    code, out, _ = _run(capsys, "--origin", "s3", "--no-ffmpeg", "--segments", "1", "--json")
    assert code == 1
    report = json.loads(out)
    failed = [s for s in report["steps"] if not s["ok"]]
    assert failed[0]["number"] == 13
    assert "BUT THE OBJECT WAS STORED" in failed[0]["detail"]
    assert all(s["ok"] for s in report["steps"][:12])


def test_an_edge_not_forwarding_the_payload_hash_makes_the_s3_demo_fail(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mediastore_ingest.testing import OriginAccessControl

    real = OriginAccessControl.signed_headers

    def forgetful(self: OriginAccessControl, method: str, url: str, viewer: Any) -> Any:
        return real(self, method, url, [])  # signs the empty-body hash, as without the header

    monkeypatch.setattr(OriginAccessControl, "signed_headers", forgetful)
    code, out, _ = _run(capsys, "--origin", "s3", "--no-ffmpeg", "--segments", "1")
    assert code == 1
    failed = [line for line in out.splitlines() if "✗" in line]
    assert any("Push the stream through the ingest edge" in line for line in failed)
    assert "XAmzContentSHA256Mismatch" in out


def test_demo_keep_that_is_not_a_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    for keep in (regular, regular / "below"):
        code, _, err = run(capsys, "demo", "--no-ffmpeg", "--segments", "1", "--keep",
                           str(keep))
        assert_one_line_error(code, err)
    assert regular.read_bytes() == b"x"
