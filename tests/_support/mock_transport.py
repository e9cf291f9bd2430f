"""An IngestClient on the public ``MockTransport``: for answers a real server would not
give (malformed, scripted) and for checks that must send nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mediastore_ingest.ingest import IngestClient, MockTransport, Request, Response

BASE = "https://127.0.0.1"
#: JSON nested far deeper than any reader allows.
DEEP = b"[" * 100_000


class FakeSleep:
    """Records the delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted_transport(*responses: Response) -> tuple[MockTransport, list[Request]]:
    """A MockTransport answering ``responses`` in order; records the requests."""
    queue = list(responses)
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return queue.pop(0)

    return MockTransport(handler), seen


def never_called(request: Request) -> Response:
    raise AssertionError(f"no request should be sent, got {request.method} {request.url}")


def mock_client(transport: MockTransport, **kwargs: Any) -> IngestClient:
    """A client on ``transport`` that never sleeps and draws 0.5 for its jitter."""
    kwargs.setdefault("sleep", FakeSleep())
    kwargs.setdefault("rng", lambda: 0.5)
    return IngestClient(BASE, transport=transport, **kwargs)


class CameraUnplugged(Exception):
    """The caller's own exception, raised while its body is being read."""


def broken_stream() -> Iterator[bytes]:
    yield b"abc"
    raise CameraUnplugged("camera unplugged")


class UnreadableFile:
    """A non-seekable binary file object whose read() fails after ``fail_after`` reads."""

    def __init__(self, fail_after: int) -> None:
        self.calls = 0
        self.fail_after = fail_after

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        self.calls += 1
        if self.calls > self.fail_after:
            raise OSError(5, "Input/output error")
        return b"x" * 100
