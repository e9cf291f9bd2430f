"""Helpers of the relay's end-to-end tests: the real ffmpeg, the relay CLI in its own
process, and a watcher of the origin's playlist."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mediastore_ingest.errors import ObjectNotFoundError
from mediastore_ingest.testing import LocalStack

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not on PATH (CI installs it)")

SECONDS = 7  # 14 segments of 0.5 s
PLAYLIST = "live/index.m3u8"
ROOT = Path(__file__).resolve().parents[2]


def encode_args(*, realtime: bool, seconds: int = SECONDS) -> list[str]:
    """ffmpeg's HLS muxer on lavfi testsrc, deterministic (bitexact), 0.5 s segments,
    every segment kept in the playlist."""
    assert FFMPEG is not None
    return [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        *(["-re"] if realtime else []),
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=24", "-t", str(seconds),
        "-c:v", "mpeg2video", "-g", "12", "-fflags", "+bitexact", "-flags", "+bitexact",
        "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "0",
    ]


def local_copy(tmp_path: Path, seconds: int = SECONDS) -> dict[str, bytes]:
    """What ffmpeg writes to a local directory: the bytes the origin must end with."""
    out = tmp_path / "local"
    out.mkdir()
    subprocess.run([*encode_args(realtime=False, seconds=seconds), str(out / "index.m3u8")],
                   check=True, timeout=60)
    files = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(files) >= 2 * seconds, sorted(files)
    return files


def push_args(url: str, *, realtime: bool, seconds: int = SECONDS) -> list[str]:
    """ffmpeg pushing the same encode with PUT over one persistent connection."""
    return [*encode_args(realtime=realtime, seconds=seconds), "-method", "PUT",
            "-http_persistent", "1", f"{url}/{PLAYLIST}"]


def stored(stack: LocalStack, path: str) -> bytes | None:
    """The bytes the origin holds at ``path``, None if none."""
    try:
        return stack.origin.read(path)
    except ObjectNotFoundError:
        return None


class PlaylistWatch:
    """Samples the origin's playlist in a thread; records every regression (media
    sequence, last segment, ``#EXT-X-ENDLIST``) and every named segment not stored yet."""

    def __init__(self, stack: LocalStack, path: str = PLAYLIST) -> None:
        self.stack = stack
        self.path = path
        self.problems: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlaylistWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        last: tuple[int, int, bool] | None = None
        directory = self.path.rpartition("/")[0]
        while not self._stop.wait(0.01):
            found = stored(self.stack, self.path)
            if found is None:
                continue
            text = found.decode()
            self.samples += 1
            match = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
            sequence = int(match.group(1)) if match else 0
            segments = [line for line in text.splitlines() if line and not line.startswith("#")]
            state = (sequence, sequence + len(segments), "#EXT-X-ENDLIST" in text)
            if last is not None and (state[0] < last[0] or state[1] < last[1]
                                     or (last[2] and not state[2])):
                self.problems.append(f"playlist went back: {last} -> {state}")
            last = state
            for name in segments:
                if stored(self.stack, f"{directory}/{name}") is None:
                    self.problems.append(f"playlist names {name} before it is stored")


def assert_complete(
    stack: LocalStack, relay_uploaded: int, expected: dict[str, bytes], *, cut_off: int = 0
) -> None:
    """The origin holds exactly ``expected`` under ``live/``, byte for byte, and as many
    PUTs as the relay counted; plus at most ``cut_off`` uploads a relay left running
    at its shutdown deadline (they may have landed: the next run sends them again)."""
    paths = sorted(p for p in stack.origin.paths() if p.startswith("live/"))
    assert paths == sorted(f"live/{name}" for name in expected)
    for name, data in expected.items():
        assert stack.origin.read(f"live/{name}") == data, name
    puts = sum(stack.container.put_count(p) for p in paths)
    assert relay_uploaded <= puts <= relay_uploaded + cut_off, (relay_uploaded, puts)


def private_pem(stack: LocalStack) -> bytes:
    return stack.key_pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class RelayProcess:
    """``python -m mediastore_ingest relay`` in its own process, signing for ``stack``,
    its stdout and stderr in files."""

    def __init__(self, stack: LocalStack, tmp_path: Path, journal: Path, *args: str,
                 to: str | None = None, name: str = "relay") -> None:
        key = tmp_path / "key.pem"
        if not key.exists():
            key.write_bytes(private_pem(stack))
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        self.command = [
            sys.executable, "-m", "mediastore_ingest", "relay", "--listen", "127.0.0.1:0",
            "--to", to or stack.ingest_base_url, "--key-id", stack.key_id,
            "--private-key", str(key), "--hash-algorithm", "SHA256",
            "--ca-bundle", stack.ca_bundle, "--journal-dir", str(journal), "--fsync", "none",
            *args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> RelayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def start(self) -> RelayProcess:
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=err,
                                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = re.search(r"relay listening on http://127\.0\.0\.1:(\d+)",
                              self.out.read_text())
            if match:
                self.port = int(match.group(1))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"the relay did not start: {self.err.read_text()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def metrics(self) -> dict[str, float]:
        """``GET /metrics``, as ``{"name{labels}": value}``."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                out[name] = float(value)
        return out

    def wait_for(self, name: str, at_least: float, timeout: float = 60.0) -> float:
        """Wait until metric ``name`` reaches ``at_least``; its value."""
        deadline = time.monotonic() + timeout
        value = 0.0
        while time.monotonic() < deadline:
            value = self.metrics().get(name, 0.0)
            if value >= at_least:
                return value
            time.sleep(0.05)
        raise AssertionError(f"{name} is {value} after {timeout} s, not {at_least}")

    def wait_empty(self, timeout: float = 60.0) -> None:
        """Wait until the journal holds nothing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.metrics()
            if m["mediastore_relay_journal_objects"] == 0:
                return
            time.sleep(0.05)
        raise AssertionError(f"the journal still holds objects: {self.metrics()}")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def summary(self) -> dict[str, int]:
        """The counts of the "relay stopped:" line."""
        line = next(x for x in self.out.read_text().splitlines()
                    if x.startswith("relay stopped:"))
        return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", line)}
