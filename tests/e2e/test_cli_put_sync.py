"""``mediastore-ingest put`` and ``sync`` against LocalContainer over HTTPS."""

from __future__ import annotations

from pathlib import Path

import pytest

from mediastore_ingest.cli import main
from mediastore_ingest.testing import LocalCA, LocalContainer
from tests._support.cli import assert_one_line_error, run
from tests._support.policies import OPEN_WRITE


def common(c: LocalContainer) -> list[str]:
    assert c.ca_bundle is not None
    return ["--base-url", c.endpoint, "--ca-bundle", c.ca_bundle, "--concurrency", "3"]


def test_put_files_manifest_last(
    writable_container: LocalContainer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "index.m3u8").write_bytes(b"#EXTM3U\n")
    for i in range(4):
        (tmp_path / f"seg{i}.ts").write_bytes(bytes([i]) * 1000)
    files = [str(tmp_path / "index.m3u8")] + [str(tmp_path / f"seg{i}.ts") for i in range(4)]
    code = main(["put", *files, "--to", "live/ch1", "--live-cache-control", *common(writable_container)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "5 of 5 files uploaded, 4008 bytes, 5 attempts, 0 failed" in out
    assert "5/5 files" in err
    puts = [r.path for r in writable_container.requests if r.method == "PUT"]
    assert puts[-1] == "/live/ch1/index.m3u8"
    assert len(puts) == 5
    assert writable_container.read("live/ch1/seg3.ts") == b"\x03" * 1000
    assert writable_container.describe("live/ch1/index.m3u8").cache_control == "max-age=1"


def test_sync_directory_and_failures_exit_1(
    writable_container: LocalContainer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "main.mpd").write_bytes(b"<MPD/>")
    (tmp_path / "v1" / "init.mp4").write_bytes(b"init")
    (tmp_path / "v1" / "bad name.m4s").write_bytes(b"x")
    code = main(["sync", str(tmp_path), "--to", "live", "--quiet", *common(writable_container)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "1 of 3 files uploaded" in out
    assert "1 failed" in out
    assert "1 held back" in out
    assert "bad name.m4s" in err
    # A player never sees a manifest naming a segment that is missing: it is held back.
    assert "held back" in err
    assert "live/v1/main.mpd" in err
    assert err.count("\n") == 2
    assert "live/v1/main.mpd" not in writable_container.paths()
    assert writable_container.read("live/v1/init.mp4") == b"init"


def test_refused_uploads_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.ts").write_bytes(b"a")
    with LocalCA() as ca, LocalContainer(ca=ca) as c:  # default policy: anonymous refused
        code = main(["put", str(tmp_path / "a.ts"), "--to", "live", "--quiet", *common(c)])
    out, err = capsys.readouterr()
    assert code == 1
    assert "0 of 1 files uploaded" in out
    assert "403" in err


def test_bad_arguments_are_one_line_errors(
    writable_container: LocalContainer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["put", str(tmp_path / "missing.ts"), "--to", "live", *common(writable_container)]) == 2
    assert main(["sync", str(tmp_path / "nope"), "--to", "live", *common(writable_container)]) == 2
    (tmp_path / "a.ts").write_bytes(b"a")
    assert main(["put", str(tmp_path / "a.ts"), "--to", "live", "--key-id", "K1",
                 *common(writable_container)]) == 2
    err = capsys.readouterr().err
    assert "not a file" in err
    assert "not a directory" in err
    assert "--private-key" in err
    assert "Traceback" not in err


# --- manifests are held back when a segment failed ----------------------------------------------


def test_sync_holds_manifests_back_when_a_segment_fails(
    ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "hls"
    src.mkdir()
    (src / "seg0.ts").write_bytes(b"a" * 100)
    (src / "seg1.ts").write_bytes(b"b" * 5000)  # over the container's limit: refused
    (src / "index.m3u8").write_bytes(b"#EXTM3U\nseg0.ts\nseg1.ts\n")
    (src / "main.mpd").write_bytes(b"<MPD/>")
    with LocalContainer(ca=ca, policy=OPEN_WRITE, max_object_size=1000) as c:
        assert c.ca_bundle is not None
        argv = ["sync", str(src), "--to", "live", "--quiet", "--base-url", c.endpoint,
                "--ca-bundle", c.ca_bundle, "--max-attempts", "1"]
        code, out, err = run(capsys, *argv)
        paths = c.paths()
        puts = [r.path for r in c.requests if r.method == "PUT"]
        assert code == 1
        assert "live/seg0.ts" in paths
        assert "live/seg1.ts" not in paths
        assert "live/index.m3u8" not in paths
        assert "live/main.mpd" not in paths
        assert not any(p.endswith((".m3u8", ".mpd")) for p in puts)
        assert "failed: live/seg1.ts" in err
        assert "held back" in err
        assert "live/index.m3u8" in err
        assert "live/main.mpd" in err
        assert "Traceback" not in err
        assert "1 of 4 files uploaded" in out
        # once the segment fits, the same sync completes, manifests last
        (src / "seg1.ts").write_bytes(b"b" * 500)
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert "4 of 4 files uploaded" in out
        assert c.read("live/index.m3u8") == b"#EXTM3U\nseg0.ts\nseg1.ts\n"
        puts = [r.path for r in c.requests if r.method == "PUT"]
        assert {p.rsplit(".", 1)[1] for p in puts[-2:]} == {"m3u8", "mpd"}


def put_argv(tmp_path: Path, *extra: str) -> list[str]:
    seg = tmp_path / "a.ts"
    seg.write_bytes(b"a")
    return ["put", str(seg), "--to", "live", "--quiet", "--base-url", "https://127.0.0.1:9",
            *extra]


def test_put_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path]
) -> None:
    priv, _ = key_files
    junk = tmp_path / "junk.pem"
    junk.write_text("junk\n")
    cases = [
        ["--url-expiry", "99999999999999999", "--key-id", "K1", "--private-key", str(priv)],
        ["--ca-bundle", str(tmp_path / "nonexistent.pem")],
        ["--ca-bundle", str(junk)],
    ]
    for extra in cases:
        code, _, err = run(capsys, *put_argv(tmp_path, *extra))
        assert_one_line_error(code, err)


def test_put_direct_bad_endpoint_or_region_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = tmp_path / "a.ts"
    seg.write_bytes(b"a")
    for extra in (["--base-url", "notaurl", "--region", "us-west-2"],
                  ["--base-url", "https://127.0.0.1:9", "--region", "us west"]):
        code, _, err = run(capsys, "put", str(seg), "--to", "live", "--quiet", "--direct",
                           *extra)
        assert_one_line_error(code, err)
