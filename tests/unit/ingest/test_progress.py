"""Progress: the progress line, a failing subscriber, progress taken back on a retry."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from mediastore_ingest.errors import (
    TransportError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    MockTransport,
    ProgressLine,
    Request,
    Response,
)


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
