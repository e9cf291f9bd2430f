"""``mediastore-ingest relay``: its options, the upload profile each origin selects, and a
graceful shutdown on SIGTERM/SIGINT that finishes the uploads in flight."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mediastore_ingest.testing import LocalStack
from tests._support.cli import assert_one_line_error, run
from tests._support.mock_transport import DEEP
from tests._support.sockets import chunked_put, read_status
from tests._support.stack import private_pem

# --- graceful shutdown: the command in a subprocess ------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_finishes_in_flight_upload_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    with LocalStack(edge_tls=True) as stack:
        key = tmp_path / "key.pem"
        key.write_bytes(private_pem(stack))
        proc = subprocess.Popen(
            [sys.executable, "-m", "mediastore_ingest", "relay", "--listen", "127.0.0.1:0",
             "--to", stack.ingest_base_url, "--key-id", stack.key_id, "--private-key", str(key),
             "--hash-algorithm", "SHA256", "--ca-bundle", stack.ca_bundle,
             "--prefix", "cli/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("relay listening on http://127.0.0.1:"), line
            port = int(line.split()[3].rsplit(":", 1)[1])
            sock = chunked_put(port, "/live/inflight.ts", [b"begin-"])
            stack.container.wait_for_streaming_upload("cli/live/inflight.ts", timeout=10)
            proc.send_signal(sig)
            assert proc.stderr is not None
            seen = []
            for err_line in proc.stderr:  # wait until the relay is shutting down
                seen.append(err_line)
                if "finishing the requests on the wire" in err_line:
                    break
            assert f"{sig.name} received" in seen[-1], seen
            # the relay keeps the upload going: the rest of the body gets through
            sock.sendall(b"3\r\nend\r\n0\r\n\r\n")
            assert read_status(sock) == 200
            sock.close()
            out, rest = proc.communicate(timeout=30)
            err = "".join(seen) + rest
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert "1 uploaded, 0 failed" in out
        assert "PUT cli/live/inflight.ts 9 bytes" in err
        assert stack.container.read("cli/live/inflight.ts") == b"begin-end"
        # new connections are refused once it has exited
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize(("origin", "sha256", "streaming"), [("mediastore", False, True),
                                                               ("s3", True, False)])
def test_cli_origin_selects_the_upload_profile(origin: str, sha256: bool, streaming: bool) -> None:
    from mediastore_ingest.cli import build_parser
    from mediastore_ingest.cli._relay import _build

    args = build_parser().parse_args(
        ["relay", "--listen", "127.0.0.1:0", "--to", "https://d111111abcdef8.cloudfront.net",
         "--unsigned", "--origin", origin]
    )
    relay = _build(args)
    try:
        assert relay.config.streaming_segments is streaming
        assert relay._client.config.sends_content_sha256 is sha256
        assert relay._client.config.origin == origin
    finally:
        relay.close()


# --- options: one-line errors ----------------------------------------------------------------


def relay_argv(*extra: str) -> list[str]:
    return ["relay", "--listen", "127.0.0.1:0", "--to", "http://127.0.0.1:9", "--unsigned",
            "--log-level", "ERROR", *extra]


def test_relay_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    junk = tmp_path / "junk.pem"
    junk.write_text("junk\n")
    latin1 = tmp_path / "setup-latin1.json"
    latin1.write_bytes(b'{"format": "caf\xe9"}')
    deep = tmp_path / "setup-deep.json"
    deep.write_bytes(DEEP)
    cases = [
        ["--listen", "127.0.0.1:\u00b2"],
        ["--listen", "127.0.0.1:" + "9" * 5000],
        ["--max-segment-mb", "nan"],
        ["--max-segment-mb", "inf"],
        ["--spool", str(regular)],
        ["--spool", str(regular / "below")],
        ["--ca-bundle", str(tmp_path / "nonexistent.pem")],
        ["--ca-bundle", str(junk)],
        ["--read-timeout", "inf"],
        ["--setup", str(latin1)],
        ["--setup", str(deep)],
    ]
    for extra in cases:
        code, _, err = run(capsys, *relay_argv(*extra))
        assert_one_line_error(code, err)
    # a journal directory that cannot be used: the relay cannot start (RelayError, 1)
    for journal in (regular, regular / "below"):
        code, _, err = run(capsys, *relay_argv("--journal-dir", str(journal)))
        assert_one_line_error(code, err, expected_code=1)
