"""`sign-url`, `sign-cookies` and `verify` through the real command frame."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mediastore_ingest.cli._sign import parse_time
from mediastore_ingest.errors import InvalidInputError
from tests._support.cli import assert_one_line_error, run

KID = "K2JCJMDEHXQW5F"
BASE = "https://d1.cloudfront.net"


def test_parse_time_forms():
    assert parse_time("+10m", now=1000) == 1600
    assert parse_time("+1d2h3m4s", now=0) == 93784
    assert parse_time("1767225600") == 1767225600
    assert parse_time("2026-01-01T00:00:00Z") == 1767225600
    assert parse_time("2026-01-01T02:00:00+02:00") == 1767225600
    for bad in ["+", "+10x", "tomorrow", "2026-01-01T00:00:00"]:
        with pytest.raises(InvalidInputError):
            parse_time(bad)


def test_sign_url_then_verify(capsys, key_files):
    priv, pub = key_files
    code, out, _ = run(capsys, "sign-url", f"{BASE}/live/seg1.ts", "--expires", "+10m",
                       "--key-id", KID, "--private-key", str(priv))
    assert code == 0
    signed = out.strip()
    assert signed.startswith(f"{BASE}/live/seg1.ts?Expires=")
    code, out, _ = run(capsys, "verify", signed, "--public-key", f"{KID}={pub}", "--json")
    assert code == 0
    assert json.loads(out)["valid"] is True


def test_sign_url_wildcard_resource_json(capsys, key_files):
    priv, _pub = key_files
    code, out, _ = run(capsys, "sign-url", f"{BASE}/live/seg1.ts", "--policy-resource",
                       f"{BASE}/live/*", "--expires", "2030-01-01T00:00:00Z", "--key-id", KID,
                       "--private-key", str(priv), "--hash-algorithm", "SHA256", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["policy"]["Statement"][0]["Resource"] == f"{BASE}/live/*"
    assert "Policy=" in doc["url"]
    assert doc["url"].endswith("&Hash-Algorithm=SHA256")


def test_verify_reports_expiry(capsys, key_files):
    priv, pub = key_files
    _, out, _ = run(capsys, "sign-url", f"{BASE}/a.ts", "--expires", "+10m",
                       "--key-id", KID, "--private-key", str(priv))
    signed = out.strip()
    code, out, err = run(capsys, "verify", signed, "--public-key", f"{KID}={pub}",
                         "--now", "+1h")
    assert code == 1
    assert "PolicyExpiredError" in err


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("header", lambda s: s.startswith("CloudFront-Policy=")),
        ("ffmpeg", lambda s: s.startswith("-headers $'Cookie: CloudFront-Policy=") and s.endswith("\\r\\n'")),
        ("curl", lambda s: s.startswith("-H 'Cookie: CloudFront-Policy=")),
        ("gstreamer", lambda s: s.startswith("extra-headers='extra-headers,Cookie=\"CloudFront-Policy=")),
        ("json", lambda s: json.loads(s)["cookies"]["CloudFront-Key-Pair-Id"] == KID),
        ("set-cookie", lambda s: s.count("Set-Cookie: ") == 4 and "Secure; HttpOnly" in s),
    ],
)
def test_sign_cookies_formats(capsys, key_files, fmt, check):
    priv, _pub = key_files
    code, out, _ = run(capsys, "sign-cookies", "--resource", f"{BASE}/live/*", "--expires", "+6h",
                       "--key-id", KID, "--private-key", str(priv), "--format", fmt)
    assert code == 0
    assert check(out.strip())


def test_cookie_header_verifies(capsys, key_files):
    priv, pub = key_files
    _, out, _ = run(capsys, "sign-cookies", "--resource", f"{BASE}/live/*", "--expires", "+1h",
                    "--key-id", KID, "--private-key", str(priv))
    code, out, _ = run(capsys, "verify", f"{BASE}/live/x.ts", "--cookie", out.strip(),
                       "--public-key", f"{KID}={pub}")
    assert code == 0
    assert out.startswith("valid: ")


@pytest.mark.parametrize(
    "argv",
    [
        ["sign-url", f"{BASE}/a.ts#x", "--expires", "+1m"],
        ["sign-url", f"{BASE}/a.ts", "--expires", "soon"],
        ["sign-url", f"{BASE}/a.ts", "--expires", "+1m", "--source-ip", "2001:db8::1"],
        ["sign-url", f"{BASE}/live/*", "--expires", "+1m", "--policy-resource", f"{BASE}/vod/*"],
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, key_files, argv):
    priv, _ = key_files
    code, _out, err = run(capsys, *argv, "--key-id", KID, "--private-key", str(priv))
    assert code == 2
    assert err.startswith("mediastore-ingest: error: ")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_missing_key_file_is_a_clean_error(capsys, tmp_path):
    code, _, err = run(capsys, "sign-url", f"{BASE}/a.ts", "--expires", "+1m", "--key-id", KID,
                       "--private-key", str(tmp_path / "nope.pem"))
    assert code == 2
    assert "nope.pem" in err


def test_console_script_help_runs():
    result = subprocess.run([sys.executable, "-m", "mediastore_ingest", "--help"],
                            capture_output=True, text=True, check=True)
    for command in ("sign-url", "sign-cookies", "verify", "keygen"):
        assert command in result.stdout


def test_broken_pipe_is_quiet(tmp_path):
    # The reader has gone before we write (`mediastore-ingest ... | head` after head exits).
    proc = subprocess.Popen(
        [sys.executable, "-m", "mediastore_ingest", "container-policy", "--region", "us-west-2",
         "--account-id", "111122223333", "--container", "live"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert b"Traceback" not in err
    assert b"BrokenPipeError" not in err


# --- bad times: one-line errors --------------------------------------------------------------


@pytest.mark.parametrize(("flag", "value"), [
    ("--expires", "\u00b2"),
    ("--expires", "9" * 5000),
    ("--expires", "+" + "9" * 5000 + "d"),
    ("--expires", "+\u0663h"),
    ("--not-before", "\u00b2"),
], ids=["superscript", "5000-digits", "5000-digit-days", "arabic-indic-hours", "not-before"])
def test_sign_url_bad_times_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path], flag: str, value: str
) -> None:
    priv, _ = key_files
    argv = ["sign-url", "https://d1.example.net/live/a.ts", "--key-id", "K1",
            "--private-key", str(priv), "--expires", "+10m", flag, value]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err)


def test_verify_bad_now_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path]
) -> None:
    _, pub = key_files
    code, _, err = run(capsys, "verify", "https://d1.example.net/live/a.ts?Expires=1",
                       "--public-key", f"K1={pub}", "--now", "\u00b2")
    assert_one_line_error(code, err)
