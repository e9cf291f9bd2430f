"""The ingest client end to end on both origins, parametrised (not copied):
IngestClient → ingest LocalEdge → MediaStore container (secret header) or S3 bucket
(Origin Access Control), and back through the playback edge."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mediastore_ingest import (
    AccessDeniedError,
    CustomPolicy,
    HTTPStatusError,
    IngestClient,
    IngestConfig,
    InvalidInputError,
    InvalidPathError,
    RetryPolicy,
)
from mediastore_ingest.testing import FaultPlan, LocalStack


@pytest.fixture(params=["mediastore", "s3"])
def origin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mediastore_stack_options(origin: str) -> dict[str, str]:
    """The plugin's ``mediastore_stack``, once per origin."""
    return {"origin": origin}


@pytest.mark.parametrize("auth", ["url", "cookie"])
def test_bytes_and_files_arrive_byte_identical(mediastore_stack: LocalStack, tmp_path: Path, auth: str) -> None:
    policy = None
    if auth == "cookie":
        policy = CustomPolicy(mediastore_stack.ingest_base_url + "/live/*", expires=2_000_000_000)
    client = mediastore_stack.ingest_client(auth=auth, policy=policy)
    segment = hashlib.sha256(b"seg").digest() * 2048
    manifest = b"#EXTM3U\n#EXTINF:2.0,\nseg1.ts\n"
    file = tmp_path / "seg2.ts"
    file.write_bytes(segment[::-1])
    client.put("live/ch1/seg1.ts", segment)
    client.put("live/ch1/seg2.ts", file)
    client.put("live/ch1/index.m3u8", manifest)
    assert mediastore_stack.origin.read("live/ch1/seg1.ts") == segment
    assert mediastore_stack.origin.read("live/ch1/seg2.ts") == segment[::-1]
    assert mediastore_stack.origin.read("live/ch1/index.m3u8") == manifest
    assert mediastore_stack.origin.describe("live/ch1/index.m3u8").content_type == (
        "application/vnd.apple.mpegurl"
    )
    # and back out through the read-only playback distribution
    player = mediastore_stack.playback_client()
    assert player.get("live/ch1/seg1.ts") == segment
    assert player.head("live/ch1/seg2.ts").size == len(segment)


def test_delete_through_the_edge(mediastore_stack: LocalStack) -> None:
    client = mediastore_stack.ingest_client()
    client.put("live/old.ts", b"x" * 100)
    client.delete("live/old.ts")
    assert "live/old.ts" not in mediastore_stack.origin.paths()


def test_unsigned_and_direct_writes_are_refused(mediastore_stack: LocalStack) -> None:
    with pytest.raises(AccessDeniedError):
        IngestClient(mediastore_stack.ingest_base_url).put("live/a.ts", b"x")
    direct = IngestClient(mediastore_stack.origin.endpoint, config=IngestConfig(ca_bundle=mediastore_stack.ca_bundle))
    with pytest.raises(AccessDeniedError):
        direct.put(("live-origin/" if mediastore_stack.origin_kind == "s3" else "") + "live/a.ts", b"x")
    assert [p for p in mediastore_stack.origin.paths() if p.endswith("live/a.ts")] == []


def test_put_many_through_faults(origin: str) -> None:
    plan = FaultPlan(seed=5, failure_rate=0.25)
    with LocalStack(origin=origin, faults=plan) as stack:
        client = stack.ingest_client(
            config=IngestConfig(ca_bundle=stack.ca_bundle, content_sha256=origin == "s3",
                                retry=RetryPolicy(max_attempts=10)),
            sleep=lambda seconds: None,
        )
        data = {f"live/s{i:03d}.ts": hashlib.sha256(bytes([i])).digest() * (100 + i)
                for i in range(40)}
        outcomes = client.put_many(list(data.items()), max_concurrency=6)
        assert [o.error for o in outcomes if not o.ok] == []
        assert sorted(p for p in stack.origin.paths() if p.startswith("live/")) == sorted(data)
        for path, body in data.items():
            assert stack.origin.read(path) == body
        assert sum(stack.ingest_edge.faults_injected.values()) > 0


def test_s3_profile(tmp_path: Path) -> None:
    with LocalStack(origin="s3") as stack:
        client = stack.ingest_client()
        assert client.config.origin == "s3"
        assert client.config.sends_content_sha256
        # a streamed body that fits the buffer is read once, hashed, sent with a length
        client.put("live/chunks.m4s", (b"x" * 10 for _ in range(3)))
        assert stack.origin.read("live/chunks.m4s") == b"x" * 30
        # S3 keys may hold what MediaStore paths may not
        client.put("live/ch 1/seg(1)+é.ts", b"k" * 10, content_type="video/mp4; codecs=avc1")
        assert stack.origin.read("live/ch 1/seg(1)+é.ts") == b"k" * 10
        # what S3 behind CloudFront cannot take is refused before any request
        before = len(stack.ingest_edge.requests)
        with pytest.raises(InvalidInputError, match="streaming"):
            client.put("live/s.m4s", b"x", upload_availability="streaming")
        with pytest.raises(InvalidInputError, match="MediaStore"):
            client.put("live/s.m4s", b"x", storage_class="temporal")
        small = stack.ingest_client(
            config=IngestConfig(ca_bundle=stack.ca_bundle, origin="s3", retry_buffer_limit=64)
        )
        with pytest.raises(InvalidInputError, match="SHA-256"):
            small.put("live/big.m4s", (b"y" * 50 for _ in range(3)))
        for bad in ("/lead.ts", "a//b.ts", "a/../b.ts", "a/./b.ts", "tab\t.ts", "k" * 1025):
            with pytest.raises(InvalidPathError):
                client.put(bad, b"x")
        assert len(stack.ingest_edge.requests) == before
        # a file that fits the buffer is read once: hashed and sent from memory
        file = tmp_path / "seg.ts"
        file.write_bytes(b"f" * 1000)
        opened: list[str] = []
        import builtins

        real_open = builtins.open

        def counting_open(name, *args, **kwargs):  # type: ignore[no-untyped-def]
            if str(name) == str(file):
                opened.append(str(name))
            return real_open(name, *args, **kwargs)

        builtins.open = counting_open
        try:
            client.put("live/file.ts", file)
        finally:
            builtins.open = real_open
        assert stack.origin.read("live/file.ts") == b"f" * 1000
        assert len(opened) == 1
        unsigned_payload = stack.ingest_client(
            config=IngestConfig(ca_bundle=stack.ca_bundle, content_sha256=False)
        )
        with pytest.raises(HTTPStatusError) as refused:  # the edge signed the empty hash
            unsigned_payload.put("live/nohash.ts", b"x" * 100)
        assert refused.value.code == "XAmzContentSHA256Mismatch"
        assert "live/nohash.ts" not in stack.origin.paths()
