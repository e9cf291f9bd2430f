"""The real ffmpeg pushing HLS and DASH into the local stack: through the signing
relay, and straight to the edge with the signed-cookie header from ``sign-cookies``.

Each encode runs twice with ``-fflags +bitexact -flags +bitexact`` (deterministic
output): once into a local directory, once over HTTP. Every file of the local copy
must be stored at the origin byte for byte, and nothing else.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from mediastore_ingest.ingest import IngestConfig
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import FaultPlan, LocalStack
from tests._support.ffmpeg import (
    FAST_RETRY,
    FFMPEG,
    MANIFEST,
    encode_args,
    http_args,
    local_copy,
)

pytestmark = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not on PATH (CI installs it)")


def assert_stored(stack: LocalStack, prefix: str, expected: dict[str, bytes]) -> None:
    stored = sorted(p for p in stack.origin.paths() if p.startswith(prefix))
    assert stored == sorted(prefix + name for name in expected)
    for name, data in expected.items():
        assert stack.origin.read(prefix + name) == data, name


def private_pem(stack: LocalStack) -> bytes:
    return stack.key_pair.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


#: The chain with a MediaStore container, then with an S3 bucket behind OAC.
BOTH_ORIGINS = pytest.mark.parametrize(
    "mediastore_stack_options", [{"origin": "mediastore"}, {"origin": "s3"}],
    ids=["mediastore", "s3"],
)


def relay_for(stack: LocalStack, **config: object) -> SigningRelay:
    s3 = stack.origin_kind == "s3"
    if s3:  # S3 behind OAC: x-amz-content-sha256 on every PUT, no streaming uploads
        config.setdefault("streaming_segments", False)
    return SigningRelay(
        stack.ingest_base_url,
        signer=stack.signer,
        config=RelayConfig(**config),  # type: ignore[arg-type]
        ingest_config=IngestConfig(ca_bundle=stack.ca_bundle, retry=FAST_RETRY,
                                   content_sha256=s3),
    )


@pytest.mark.parametrize("muxer", ["hls", "dash"])
@BOTH_ORIGINS
def test_ffmpeg_through_the_relay(mediastore_stack: LocalStack, tmp_path: Path, muxer: str) -> None:
    expected = local_copy(tmp_path, muxer, 4)
    with relay_for(mediastore_stack, prefix="ch1/") as relay:
        subprocess.run(
            [*encode_args(4, muxer), *http_args(), f"{relay.url}/live/{MANIFEST[muxer]}"],
            check=True, timeout=60,
        )
    # leaving the with-block drained the relay: every request ffmpeg sent is done
    stats = relay.stats()
    assert stats.failed == 0
    assert stats.aborted == 0
    assert_stored(mediastore_stack, "ch1/live/", expected)
    manifest = mediastore_stack.origin.describe(f"ch1/live/{MANIFEST[muxer]}")
    assert manifest.cache_control == "max-age=1"
    segment = next(n for n in expected if n != MANIFEST[muxer])
    assert mediastore_stack.origin.describe(f"ch1/live/{segment}").cache_control == "max-age=31536000"


def test_ffmpeg_hls_through_the_relay_with_edge_faults(tmp_path: Path) -> None:
    expected = local_copy(tmp_path, "hls", 6)
    plan = FaultPlan(seed=11, failure_rate=0.3)
    with LocalStack(faults=plan) as stack:
        with relay_for(stack) as relay:
            subprocess.run(
                [*encode_args(6, "hls"), *http_args(), f"{relay.url}/live/index.m3u8"],
                check=True, timeout=60,
            )
        assert sum(stack.ingest_edge.faults_injected.values()) > 0
        stats = relay.stats()
        assert stats.retries > 0
        assert stats.failed == 0
        assert stats.aborted == 0
        assert_stored(stack, "live/", expected)


@pytest.mark.parametrize(("muxer", "fmt"), [("hls", "ffmpeg"), ("dash", "ffmpeg-dash")])
def test_ffmpeg_direct_to_the_edge_with_the_cookie_header(
    mediastore_stack: LocalStack, tmp_path: Path, muxer: str, fmt: str
) -> None:
    """`sign-cookies --format ffmpeg|ffmpeg-dash` output pasted into a shell command."""
    expected = local_copy(tmp_path, muxer, 3)
    key = tmp_path / "key.pem"
    key.write_bytes(private_pem(mediastore_stack))
    printed = subprocess.run(
        [sys.executable, "-m", "mediastore_ingest", "sign-cookies",
         "--resource", f"{mediastore_stack.ingest_base_url}/live/*", "--expires", "+1h",
         "--key-id", mediastore_stack.key_id, "--private-key", str(key), "--hash-algorithm", "SHA256",
         "--format", fmt],
        check=True, capture_output=True, text=True, timeout=30,
    ).stdout.strip()
    # -http_persistent 0 here: with 1, ffmpeg sends its last requests on the kept-alive
    # connection without reading the answers and closes it; the kernel then resets the
    # connection and the edge, whose answer write fails, never reads the requests still
    # queued (the last segment and manifest are lost). The relay reads them; see
    # test_ffmpeg_through_the_relay, which uses -http_persistent 1.
    args = [*encode_args(3, muxer), "-method", "PUT", "-http_persistent", "0"]
    command = " ".join(shlex.quote(a) for a in args)
    command += f" {printed} {shlex.quote(f'{mediastore_stack.ingest_base_url}/live/{MANIFEST[muxer]}')}"
    subprocess.run(["bash", "-c", command], check=True, timeout=60)

    # ffmpeg does not wait for an answer before its next PUT, and with
    # -http_persistent 0 each PUT has its own connection: the rewrites of one file (the
    # manifest, DASH's init segment) can reach the origin out of order. So media
    # segments must be byte-identical; rewritten files must be present. (Through the
    # relay, one connection keeps the order: there everything is byte-identical.)
    rewritten = {MANIFEST[muxer]} | {n for n in expected if n.startswith("init-")}
    media = {n: data for n, data in expected.items() if n not in rewritten}
    assert media

    def complete(_: object) -> bool:
        stored = {p for p in mediastore_stack.container.paths() if p.startswith("live/")}
        return stored == {"live/" + n for n in expected} and all(
            mediastore_stack.container.read("live/" + n) == data for n, data in media.items()
        )

    # ffmpeg exits without waiting for its last answer: wait for the edge to finish
    try:
        mediastore_stack.container.wait_for_request(complete, timeout=20)
    except Exception:
        stored = {p for p in mediastore_stack.container.paths() if p.startswith("live/")}
        missing = sorted({"live/" + n for n in expected} - stored)
        different = sorted(n for n, data in media.items()
                           if "live/" + n in stored and mediastore_stack.container.read("live/" + n) != data)
        raise AssertionError(f"missing {missing}, different {different}") from None
    assert {r.status for r in mediastore_stack.ingest_edge.requests} == {200}


def test_ffmpeg_without_the_cookie_is_refused(mediastore_stack: LocalStack, tmp_path: Path) -> None:
    """The control: the same push without the header stores nothing."""
    subprocess.run(
        [*encode_args(2, "hls"), *http_args(), f"{mediastore_stack.ingest_base_url}/live/index.m3u8"],
        capture_output=True, timeout=60,
    )
    assert mediastore_stack.ingest_edge.requests
    assert {r.status for r in mediastore_stack.ingest_edge.requests} == {403}
    assert mediastore_stack.container.paths() == []
