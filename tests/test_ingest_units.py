"""Pure pieces of the ingest client: retry policy, media types and paths, bodies,
progress, and the MockTransport seam."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mediastore_ingest.errors import (
    BodyNotRetryableError,
    HTTPStatusError,
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
    TransportError,
)
from mediastore_ingest.ingest import (
    MEDIA_TYPES,
    Headers,
    IngestClient,
    IngestConfig,
    MockTransport,
    ProgressLine,
    Request,
    Response,
    RetryPolicy,
    Transport,
    Urllib3Transport,
    guess_content_type,
    live_cache_control,
    parse_retry_after,
    validate_content_type,
    validate_path,
)
from mediastore_ingest.ingest._body import IterableBody, make_body

PATH_RE = r"(?:[A-Za-z0-9_.\-~]+/){0,10}[A-Za-z0-9_.\-~]+"


# --- retry policy -----------------------------------------------------------------------------


def test_retryable_classification() -> None:
    policy = RetryPolicy()
    assert policy.is_retryable(TransportError("reset"))
    for status in (429, 500, 502, 503, 504):
        assert policy.is_retryable(HTTPStatusError("x", status=status))
    for status in (400, 401, 403, 404, 409, 412, 413, 501):
        assert not policy.is_retryable(HTTPStatusError("x", status=status))
    assert not policy.is_retryable(InvalidInputError("bad"))
    assert not RetryPolicy(retry_transport_errors=False).is_retryable(TransportError("x"))


@pytest.mark.parametrize("bad", [{403}, {404, 503}, {400}, {99}])
def test_never_retry_client_errors(bad: set[int]) -> None:
    with pytest.raises(InvalidInputError):
        RetryPolicy(retry_statuses=frozenset(bad))


@given(st.integers(1, 200), st.floats(0, 1))
def test_backoff_is_full_jitter_within_cap(n: int, draw: float) -> None:
    policy = RetryPolicy(backoff_base=0.1, backoff_cap=5.0)
    delay = policy.delay(n, lambda: draw)
    assert 0 <= delay <= min(5.0, 0.1 * 2 ** (n - 1))
    assert delay == pytest.approx(draw * min(5.0, 0.1 * 2 ** min(n - 1, 62)))


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=10)
    assert policy.delay(1, lambda: 1.0, retry_after=3) == 3
    assert policy.delay(1, lambda: 1.0, retry_after=999) == 10
    assert policy.delay(1, lambda: 1.0, retry_after=-5) == 0


def test_parse_retry_after() -> None:
    assert parse_retry_after("120", now=0) == 120
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after("soon", now=0) is None
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=40) == 60
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", now=400) == 0


# --- media types and paths --------------------------------------------------------------------


@given(st.from_regex(PATH_RE, fullmatch=True))
def test_every_mediastore_path_is_accepted(path: str) -> None:
    if len(path) <= 900 and not any(p in (".", "..") for p in path.split("/")):
        assert validate_path(path) == path
    else:
        with pytest.raises(InvalidPathError):
            validate_path(path)


@given(st.text(max_size=50))
def test_validate_path_agrees_with_the_regex(path: str) -> None:
    ok = re.fullmatch(PATH_RE, path) is not None and not any(
        p in (".", "..") for p in path.split("/")
    )
    if ok:
        validate_path(path)
    else:
        with pytest.raises(InvalidPathError):
            validate_path(path)


def test_content_types_are_all_valid_for_mediastore() -> None:
    for ext, ctype in MEDIA_TYPES.items():
        assert validate_content_type(ctype) == ctype
        assert guess_content_type("live/x" + ext.upper()) == ctype
    assert guess_content_type("live/.hidden") == "application/octet-stream"
    assert guess_content_type("live.d/noext") == "application/octet-stream"
    with pytest.raises(InvalidContentTypeError):
        validate_content_type("text/html; charset=utf-8")
    with pytest.raises(InvalidContentTypeError):
        validate_content_type(None)


def test_live_cache_control() -> None:
    assert live_cache_control("a/index.m3u8") == "max-age=1"
    assert live_cache_control("a/manifest.MPD") == "max-age=1"
    assert live_cache_control("a/seg1.ts") == "max-age=31536000"
    assert live_cache_control("a/seg1.ts", segment="max-age=60") == "max-age=60"


# --- bodies ---------------------------------------------------------------------------------------


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


# --- transport seam ------------------------------------------------------------------------------


def test_mock_transport_sees_the_request_and_simulates_failures() -> None:
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        if len(calls) == 1:
            raise TransportError("simulated reset", path=request.path)
        return Response(200, {"Content-Type": "application/json"}, b'{"ETag":"x"}')

    transport = MockTransport(handler)
    assert isinstance(transport, Transport)
    delays: list[float] = []
    client = IngestClient("https://d1.example.net", transport=transport, sleep=delays.append,
                          rng=lambda: 1.0)
    result = client.put("live/a.ts", (p for p in [b"one", b"two"]))
    assert result.attempts == 2
    assert result.etag == "x"
    assert [c.body for c in calls] == [b"onetwo", b"onetwo"]
    assert calls[0].method == "PUT"
    assert calls[0].chunked
    assert calls[0].headers.get("content-type") == "video/MP2T"
    assert delays == [0.1]  # rng() * backoff_base


def test_body_not_retryable_through_mock() -> None:
    def handler(request: Request) -> Response:
        return Response(503, {}, b"")

    client = IngestClient(
        "https://d1.example.net", transport=MockTransport(handler), sleep=lambda s: None,
        config=IngestConfig(retry_buffer_limit=2),
    )
    with pytest.raises(BodyNotRetryableError) as err:
        client.put("live/a.ts", iter([b"abc"]))
    assert isinstance(err.value.__cause__, HTTPStatusError)


def test_headers_behave() -> None:
    h = Headers([("Content-Type", "a"), ("set-cookie", "1"), ("Set-Cookie", "2")])
    assert h.get("content-type") == "a"
    assert h.get("x") is None
    assert h.get_all("SET-COOKIE") == ["1", "2"]
    assert "Content-Type" in h
    assert len(h) == 3
    assert "secret" not in repr(Headers({"Cookie": "CloudFront-Signature=secret"}))


def test_urllib3_transport_is_a_transport() -> None:
    t = Urllib3Transport()
    assert isinstance(t, Transport)
    t.close()


# --- progress -------------------------------------------------------------------------------------


def test_progress_line_and_failing_subscriber(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    line = ProgressLine(out, interval=0, clock=iter(range(100)).__next__)

    class Broken:
        def on_progress(self, **kwargs: Any) -> None:
            raise RuntimeError("bug in a progress bar")

    client = IngestClient(
        "https://d1.example.net",
        transport=MockTransport(lambda r: Response(200, {}, b"{}")),
        subscribers=[Broken(), line],
    )
    with caplog.at_level(logging.WARNING):
        client.put("live/a.ts", b"x" * 2048)
    outcomes = client.put_many([("live/b.ts", b"y"), ("bad path", b"z")])
    line.finish()
    assert [o.ok for o in outcomes] == [True, False]
    assert (line.queued, line.done, line.failed, line.bytes) == (3, 3, 1, 2049)
    assert out.getvalue().endswith("\n")
    assert "3/3 files" in out.getvalue()
    assert "1 failed" in line.line()
    assert "bug in a progress bar" in caplog.text


@pytest.mark.parametrize("kind", ["bytes", "generator"])
def test_rewind_reports_negative_progress(kind: str) -> None:
    """A retry that re-sends the body first takes back the progress already reported."""
    from mediastore_ingest.errors import TransportError

    data = bytes(range(256)) * 64  # 16 KiB
    calls: list[int] = []

    class HalfThenFail:
        def handle(self, request: Request) -> Response:
            calls.append(1)
            body = request.body
            chunks = [body] if isinstance(body, bytes) else body
            assert chunks is not None
            for _ in chunks:
                pass
            if len(calls) == 1:  # reset after the body went out, before the answer
                raise TransportError("connection reset", path=request.path)
            return Response(200, {}, b"{}")

        def close(self) -> None:
            pass

    events: list[int] = []

    class Recorder:
        def on_progress(self, bytes_transferred: int, **kwargs: Any) -> None:
            events.append(bytes_transferred)

    body: Any = data if kind == "bytes" else (data[i : i + 1024] for i in range(0, len(data), 1024))
    client = IngestClient("https://o.example", transport=HalfThenFail(), sleep=lambda s: None,
                          subscribers=[Recorder()])
    result = client.put("live/a.ts", body)
    assert result.attempts == 2
    rewinds = [e for e in events if e < 0]
    assert len(rewinds) == 1
    first = events.index(rewinds[0])
    assert sum(events[:first]) == -rewinds[0] > 0
    assert sum(events) == len(data)
