"""The transport seam: MockTransport, Headers, the urllib3 transport."""

from __future__ import annotations

import pytest

from mediastore_ingest.errors import (
    BodyNotRetryableError,
    HTTPStatusError,
    InvalidInputError,
    TransportError,
)
from mediastore_ingest.ingest import (
    Headers,
    IngestClient,
    IngestConfig,
    MockTransport,
    Request,
    Response,
    Transport,
    Urllib3Transport,
)
from tests._support.mock_transport import CameraUnplugged, broken_stream, mock_client


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
    assert Headers([["a", "b"]]).get("A") == "b"
    assert Headers({"a": "b"}).get("a") == "b"


def test_urllib3_transport_is_a_transport() -> None:
    t = Urllib3Transport()
    assert isinstance(t, Transport)
    t.close()


def test_mock_transport_unwraps_body_errors() -> None:
    client = mock_client(MockTransport(lambda r: Response(200, {}, b"{}")))
    with pytest.raises(InvalidInputError, match="bytes"):
        client.put("live/a.ts", iter(["abc"]))
    with pytest.raises(CameraUnplugged):
        client.put("live/b.ts", broken_stream())
