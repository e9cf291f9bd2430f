"""``mediastore-ingest local-stack`` as a user runs it: a subprocess that prints where
everything is, takes a signed PUT through the printed edge URL, and stops cleanly on
SIGINT or SIGTERM (exit 0). Before, there was no such command.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediastore_ingest.ingest import IngestClient, IngestConfig
from mediastore_ingest.signing import UrlSigner

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

FIELDS = {
    "ingest url": "ingest_url",
    "playback url": "playback_url",
    "origin endpoint": "origin_endpoint",
    "key id": "key_id",
    "hash algorithm": "hash_algorithm",
    "private key": "private_key",
    "ca bundle": "ca_bundle",
}


class Running:
    def __init__(self, args: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mediastore_ingest", "local-stack", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []

    def read_until(self, done: str, timeout: float = 60) -> list[str]:
        """stdout lines up to and including the first that starts with ``done``."""
        found = threading.Event()
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            for line in stdout:
                self.lines.append(line.rstrip("\n"))
                if line.startswith(done):
                    found.set()
                    return
            found.set()

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        assert found.wait(timeout), f"no {done!r} line in {timeout}s: {self.lines}"
        return self.lines

    def stop(self, sig: int) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        out, err = self.process.communicate(timeout=60)
        return self.process.returncode, out, err


@pytest.fixture
def run(tmp_path: Path) -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for item in started:
        if item.process.poll() is None:
            item.process.kill()
            item.process.communicate(timeout=30)


def _parse(lines: list[str]) -> dict[str, str]:
    info = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and name in FIELDS:
            info[FIELDS[name]] = value.strip()
    return info


def _put_and_read_back(info: dict[str, str], path: str, data: bytes) -> bytes:
    signer = UrlSigner(info["key_id"], info["private_key"], hash_algorithm=info["hash_algorithm"])
    origin = "s3" if "s3" in info.get("origin", "") else "mediastore"
    config = IngestConfig(ca_bundle=info["ca_bundle"], origin=origin)
    with IngestClient(info["ingest_url"], signer=signer, config=config) as ingest:
        result = ingest.put(path, data)
        assert result.status == 200
    with IngestClient(info["playback_url"], signer=signer, config=config) as playback:
        return playback.get(path)


def test_prints_its_urls_takes_a_put_and_stops_on_sigint(
    run: list[Running], tmp_path: Path
) -> None:
    stack = Running([], tmp_path)
    run.append(stack)
    lines = stack.read_until("try:")
    assert lines[0].startswith("local stack running (mediastore origin)")
    info = _parse(lines)
    assert set(info) == set(FIELDS.values())
    assert info["ingest_url"].startswith("http://127.0.0.1:")
    assert info["origin_endpoint"].startswith("https://127.0.0.1:")
    key = Path(info["private_key"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert Path(info["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert info["key_id"].isupper()

    data = b"\x47" * 188 * 20
    assert _put_and_read_back(info, "live/ch1/seg1.ts", data) == data

    code, _, err = stack.stop(signal.SIGINT)
    assert code == 0, err
    assert "local stack stopped" in err
    assert not key.exists()  # the temporary key went with the stack
    assert "Traceback" not in err


def test_s3_origin_json_and_a_kept_key_stop_on_sigterm(
    run: list[Running], tmp_path: Path
) -> None:
    key = tmp_path / "stack_key.pem"
    stack = Running(["--origin", "s3", "--json", "--key-out", str(key)], tmp_path)
    run.append(stack)
    info = json.loads(stack.read_until("{")[-1])
    assert info["origin"] == "s3"
    assert info["private_key"] == str(key.resolve())
    assert stat.S_IMODE(key.stat().st_mode) == 0o600

    data = b"#EXTM3U\n"
    assert _put_and_read_back(info, "live/index.m3u8", data) == data

    code, _, err = stack.stop(signal.SIGTERM)
    assert code == 0, err
    assert key.exists()  # --key-out is the caller's file: kept


def test_an_existing_key_out_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("mine")
    result = subprocess.run(
        [sys.executable, "-m", "mediastore_ingest", "local-stack", "--key-out", str(key)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "--force" in result.stderr
    assert key.read_text() == "mine"
