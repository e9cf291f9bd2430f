"""What a new user hands the client first: a manifest as ``str``, a path, one timeout,
a listing with a channel policy.

Before: ``put("live/i.m3u8", "#EXTM3U\\n")`` failed with "cannot read body file";
``IngestConfig(timeout=5)`` was a ``TypeError``; ``list("live/ch1")`` with a channel
policy failed quoting an internal URL.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mediastore_ingest.errors import (
    IngestError,
    InvalidInputError,
    ObjectNotFoundError,
    TransportError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    Request,
    Response,
    RetryPolicy,
)
from mediastore_ingest.signing import CustomPolicy
from mediastore_ingest.testing import LocalStack
from tests._support.mock_transport import never_called

MANIFEST = "#EXTM3U\n#EXT-X-VERSION:7\n#EXTINF:2.0,\nseg1.ts\n"


# --- str is content --------------------------------------------------------------------


def test_a_str_body_is_the_content(mediastore_stack: LocalStack) -> None:
    client = mediastore_stack.ingest_client()
    result = client.put("live/ch1/index.m3u8", MANIFEST)
    assert mediastore_stack.container.read("live/ch1/index.m3u8") == MANIFEST.encode()
    assert result.bytes_sent == len(MANIFEST)
    put = [r for r in mediastore_stack.container.requests if r.method == "PUT"][-1]
    assert put.header("Content-Length") == str(len(MANIFEST))
    assert put.header("Content-Type") == "application/vnd.apple.mpegurl"


def test_a_str_body_is_utf8(mediastore_stack: LocalStack) -> None:
    text = "WEBVTT\n\n00:00.000 --> 00:01.000\nGrüße, 世界\n"
    mediastore_stack.ingest_client().put("live/ch1/sub.vtt", text)
    assert mediastore_stack.container.read("live/ch1/sub.vtt") == text.encode("utf-8")


def test_a_str_that_names_a_file_is_still_content(tmp_path: Path) -> None:
    f = tmp_path / "seg.ts"
    f.write_bytes(b"T" * 100)
    seen: list[bytes] = []

    def store(request: Request) -> Response:
        assert isinstance(request.body, bytes)
        seen.append(request.body)
        return Response(200, {}, b"{}")

    client = IngestClient("https://d1.example.net", transport=MockTransport(store))
    client.put("live/a.ts", str(f))
    client.put("live/b.ts", f)  # a path is an os.PathLike
    assert seen == [str(f).encode(), b"T" * 100]


def test_a_str_that_is_not_text_is_refused_saying_both_ways() -> None:
    client = IngestClient("https://d1.example.net", transport=MockTransport(never_called))
    with pytest.raises(InvalidInputError) as err:
        client.put("live/a.ts", "seg\ud800.ts")
    assert "UTF-8" in str(err.value)
    assert "pathlib.Path" in str(err.value)


def test_the_wrong_body_type_names_every_kind() -> None:
    client = IngestClient("https://d1.example.net", transport=MockTransport(never_called))
    with pytest.raises(InvalidInputError) as err:
        client.put("live/a.ts", 3.5)  # type: ignore[arg-type]
    assert "str (its UTF-8 text)" in str(err.value)
    assert "os.PathLike" in str(err.value)


# --- one timeout -----------------------------------------------------------------------


def test_timeout_sets_both() -> None:
    config = IngestConfig(timeout=5)
    assert (config.connect_timeout, config.read_timeout) == (5, 5)
    assert config == IngestConfig(connect_timeout=5, read_timeout=5)
    assert IngestConfig().connect_timeout == 10.0
    assert IngestConfig().read_timeout == 60.0


@pytest.mark.parametrize("other", [{"connect_timeout": 3}, {"read_timeout": 3}])
def test_timeout_with_the_others_is_refused(other: dict[str, float]) -> None:
    with pytest.raises(InvalidInputError, match="timeout= sets both"):
        IngestConfig(timeout=5, **other)
    with pytest.raises(InvalidInputError, match="timeout"):
        IngestConfig(timeout=-1)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


def test_timeout_bounds_the_wait_over_a_real_socket(silent_server: str) -> None:
    client = IngestClient(
        silent_server, config=IngestConfig(timeout=0.3, retry=RetryPolicy(max_attempts=1))
    )
    started = time.monotonic()
    with pytest.raises(IngestError) as err:
        client.head("live/a.ts")
    assert time.monotonic() - started < 5  # the default read timeout is 60 s
    assert isinstance(err.value.__cause__, TransportError)
    assert "timed out" in str(err.value)


# --- listing with a channel policy -----------------------------------------------------


def _channel(stack: LocalStack, resource: str) -> CustomPolicy:
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    return CustomPolicy(stack.ingest_base_url + resource, expires=expires)


@pytest.fixture
def mediastore_stack_options() -> dict[str, object]:
    # the ingest distribution may also list and read, so a listing can succeed
    return {
        "ingest_actions": (
            "mediastore:PutObject", "mediastore:DeleteObject",
            "mediastore:ListItems", "mediastore:GetObject", "mediastore:DescribeObject",
        )
    }


def test_list_with_a_channel_policy_says_why_it_cannot(mediastore_stack: LocalStack) -> None:
    client = mediastore_stack.ingest_client(policy=_channel(mediastore_stack, "/live/ch1/*"))
    client.put("live/ch1/a.ts", b"x")
    before = len(mediastore_stack.ingest_edge.requests)
    with pytest.raises(InvalidInputError) as err:
        client.list("live/ch1")
    message = str(err.value)
    assert "root of the distribution" in message
    assert "/live/ch1/*" in message
    assert "base_url + '/*'" in message
    assert len(mediastore_stack.ingest_edge.requests) == before  # refused before sending


def test_list_with_a_distribution_wide_policy_works(mediastore_stack: LocalStack) -> None:
    client = mediastore_stack.ingest_client(policy=_channel(mediastore_stack, "/*"))
    client.put("live/ch1/a.ts", b"x")
    assert [item.name for item in client.list("live/ch1")] == ["a.ts"]
    cookies = mediastore_stack.ingest_client(auth="cookie")
    assert [item.name for item in cookies.list("live/ch1")] == ["a.ts"]


def test_a_missing_object_through_the_write_only_ingest_edge_is_403() -> None:
    """Documented: the default ingest distribution may only write, so a GET of a
    missing object is refused (403), not "not found"."""
    with LocalStack() as stack:
        client = stack.ingest_client()
        with pytest.raises(IngestError) as err:
            client.get("live/none.ts")
        assert not isinstance(err.value, ObjectNotFoundError)
        assert getattr(err.value, "status", None) == 403
        with pytest.raises(ObjectNotFoundError):
            stack.playback_client().get("live/none.ts")
