"""Request bodies: replay within the retry buffer, what a body may be, the payload hash."""

from __future__ import annotations

import io
from typing import Any

import pytest

from mediastore_ingest.errors import (
    InvalidInputError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    Request,
    Response,
)
from mediastore_ingest.ingest._body import IterableBody, make_body


def test_iterable_body_replays_within_the_limit() -> None:
    body = IterableBody(iter([b"ab", b"cd", b"ef"]), buffer_limit=4)
    first = body.open()
    assert next(first) == b"ab"
    first.close()
    assert body.can_retry()
    assert b"".join(body.open()) == b"abcdef"  # replay + rest; now over the limit
    assert not body.can_retry()
    assert body.retried


def test_make_body_rejects_text_and_missing_files(tmp_path: Any) -> None:
    with pytest.raises(InvalidInputError):
        make_body(io.StringIO("text"), buffer_limit=1)
    with pytest.raises(InvalidInputError):
        make_body(tmp_path / "missing.ts", buffer_limit=1)
    with pytest.raises(InvalidInputError):
        make_body(3.5, buffer_limit=1)


def test_content_sha256_header(tmp_path: Any) -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, {}, b"{}")

    client = IngestClient("https://o.example", transport=MockTransport(handler),
                          config=IngestConfig(content_sha256=True))
    f = tmp_path / "a.ts"
    f.write_bytes(b"abc")
    client.put("a.ts", b"abc")
    client.put("b.ts", f)
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert [r.headers.get("x-amz-content-sha256") for r in seen] == [digest, digest]
    # A streamed body that fits the retry buffer is read first, then sent with a length.
    client.put("c.ts", iter([b"a", b"bc"]))
    assert seen[-1].headers.get("x-amz-content-sha256") == digest
    assert seen[-1].headers.get("Content-Length") == "3"
    small = IngestClient("https://o.example", transport=MockTransport(handler),
                         config=IngestConfig(content_sha256=True, retry_buffer_limit=2))
    with pytest.raises(InvalidInputError, match="SHA-256"):
        small.put("d.ts", iter([b"a", b"bc"]))
