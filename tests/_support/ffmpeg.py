"""ffmpeg for the end-to-end tests: a deterministic test-pattern encode (HLS or DASH),
the options of an HTTP PUT push, and a local copy of the same encode to compare with."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mediastore_ingest.ingest import RetryPolicy

FFMPEG = shutil.which("ffmpeg")
FAST_RETRY = RetryPolicy(max_attempts=8, backoff_base=0.001, backoff_cap=0.02)


def _has_libx264() -> bool:
    if FFMPEG is None:
        return False
    out = subprocess.run([FFMPEG, "-hide_banner", "-encoders"], capture_output=True, text=True)
    return " libx264 " in out.stdout


CODEC = "libx264" if _has_libx264() else "mpeg2video"


def encode_args(seconds: int, muxer: str) -> list[str]:
    assert FFMPEG is not None
    args = [
        FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", str(seconds),
        "-c:v", CODEC, "-g", "25", "-fflags", "+bitexact", "-flags", "+bitexact",
    ]
    if muxer == "hls":
        args += ["-f", "hls", "-hls_time", "1"]
    else:
        args += ["-f", "dash", "-seg_duration", "1"]
    return args


def http_args() -> list[str]:
    return ["-method", "PUT", "-http_persistent", "1"]


MANIFEST = {"hls": "index.m3u8", "dash": "manifest.mpd"}


def local_copy(tmp_path: Path, muxer: str, seconds: int) -> dict[str, bytes]:
    out = tmp_path / f"local-{muxer}"
    out.mkdir()
    subprocess.run([*encode_args(seconds, muxer), str(out / MANIFEST[muxer])], check=True,
                   timeout=60)
    files = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert len(files) >= seconds, files.keys()
    return files
