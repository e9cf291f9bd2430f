"""IngestClient against real loopback servers: LocalContainer (HTTPS, policy enforced)
for the data path, and small scripted servers for exact failure behaviour; the public
MockTransport where an answer must be malformed in a way no real server is made to be."""

from __future__ import annotations

import email.utils
import hashlib
import io
import itertools
import json
import math
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mediastore_ingest.errors import (
    AccessDeniedError,
    BodyNotRetryableError,
    HTTPStatusError,
    IngestError,
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
    ObjectNotFoundError,
    RetriesExhaustedError,
    TransportError,
)
from mediastore_ingest.ingest import (
    IngestClient,
    IngestConfig,
    MockTransport,
    PutRequest,
    Response,
    RetryPolicy,
    live_cache_control,
)
from mediastore_ingest.testing import LocalCA, LocalContainer, LocalHTTPServer, RequestHandler
from tests._support.mock_transport import (
    DEEP,
    CameraUnplugged,
    FakeSleep,
    UnreadableFile,
    broken_stream,
    mock_client,
    never_called,
    scripted_transport,
)

REGION = "us-west-2"
ACCOUNT = "111122223333"
OPEN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OpenOverHttps",
            "Effect": "Allow",
            "Principal": "*",
            "Action": [
                "mediastore:PutObject",
                "mediastore:GetObject",
                "mediastore:DeleteObject",
                "mediastore:DescribeObject",
                "mediastore:ListItems",
            ],
            "Resource": f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
    ],
}


class Recorder:
    """A progress subscriber that records every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def on_queued(self, **kwargs: Any) -> None:
        with self.lock:
            self.events.append(("queued", kwargs))

    def on_progress(self, **kwargs: Any) -> None:
        with self.lock:
            self.events.append(("progress", kwargs))

    def on_done(self, **kwargs: Any) -> None:
        with self.lock:
            self.events.append(("done", kwargs))

    def progress(self, path: str | None = None) -> list[int]:
        return [
            e["bytes_transferred"]
            for kind, e in self.events
            if kind == "progress" and (path is None or e["path"] == path)
        ]


@pytest.fixture(scope="module")
def module_container(ca: LocalCA) -> Iterator[LocalContainer]:
    with LocalContainer(ca=ca, policy=OPEN_POLICY) as c:
        yield c


@pytest.fixture
def open_container(module_container: LocalContainer) -> LocalContainer:
    """The module's open container (anyone may do anything in live/*), emptied."""
    module_container.clear()
    return module_container


def make_client(container: LocalContainer, **kwargs: Any) -> IngestClient:
    config = kwargs.pop("config", IngestConfig(ca_bundle=container.ca_bundle))
    return IngestClient(container.endpoint, config=config, sleep=FakeSleep(), **kwargs)


# --- scripted server --------------------------------------------------------------------------


class ScriptHandler(RequestHandler):
    """Plays the next action of the server's script for each request."""

    def _run(self) -> None:
        server: ScriptedServer = self.owner  # type: ignore[assignment]
        action = server.next_action()
        kind = action[0]
        if kind == "reset_after":
            got = 0
            for piece in self.iter_body():
                got += len(piece)
                if got >= action[1]:
                    break
            self.abort_connection()
            return
        if kind == "hang":  # never answer (until the server stops)
            server.release.wait(10)
            self.abort_connection()
            return
        if kind == "early_status":  # answer without reading the body
            self.send_json(action[1], {"__type": "Early"})
            self.close_connection = True
            return
        body = self.read_body() if self.has_body() else b""
        if kind == "status":
            status, headers = action[1], action[2] if len(action) > 2 else {}
            code = {403: "AccessDeniedException", 404: "ObjectNotFoundException"}.get(
                status, "ServiceUnavailable"
            )
            self.send_json(status, {"__type": code, "Message": "scripted"}, headers=headers,
                           head=self.command == "HEAD")
            return
        with server.lock:
            server.stored[self.path] = body
            server.headers_seen.append(dict(self.headers.items()))
        self.send_json(
            200,
            {"ContentSHA256": hashlib.sha256(body).hexdigest(), "ETag": "etag-1",
             "StorageClass": "TEMPORAL"},
            head=self.command == "HEAD",
        )

    do_PUT = do_GET = do_HEAD = do_DELETE = _run


class ScriptedServer(LocalHTTPServer):
    handler_class = ScriptHandler

    def __init__(self, actions: list[tuple[Any, ...]] = ()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.actions = list(actions)
        self.lock = threading.Lock()
        self.stored: dict[str, bytes] = {}
        self.headers_seen: list[dict[str, str]] = []
        self.release = threading.Event()

    def _on_stop(self) -> None:
        self.release.set()

    def next_action(self) -> tuple[Any, ...]:
        with self.lock:
            return self.actions.pop(0) if self.actions else ("ok",)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    with server:
        yield server


def scripted_client(server: ScriptedServer, **kwargs: Any) -> tuple[IngestClient, FakeSleep]:
    sleep = FakeSleep()
    kwargs.setdefault("config", IngestConfig(retry=RetryPolicy(max_attempts=4)))
    return IngestClient(server.base_url, sleep=sleep, rng=lambda: 0.5, **kwargs), sleep


# --- every body kind against LocalContainer ---------------------------------------------------


def test_put_bytes_like(open_container: LocalContainer) -> None:
    client = make_client(open_container)
    data = bytes(range(256)) * 40
    for i, body in enumerate([data, bytearray(data), memoryview(data)]):
        result = client.put(f"live/b{i}.ts", body)
        assert open_container.read(f"live/b{i}.ts") == data
        assert result.bytes_sent == len(data)
        assert result.attempts == 1
        assert not result.retried_body
        assert result.content_sha256 == hashlib.sha256(data).hexdigest()
        assert result.etag == open_container.describe(f"live/b{i}.ts").etag
        assert result.status == 200
        assert not result.url_signed
    put = [r for r in open_container.requests if r.method == "PUT"]
    assert all(r.header("Content-Length") == str(len(data)) for r in put)


def test_put_large_bytes_is_sent_in_pieces_and_identical(open_container: LocalContainer) -> None:
    data = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32 + 7)
    recorder = Recorder()
    client = make_client(open_container, subscribers=[recorder])
    client.put("live/big.mp4", data)
    assert open_container.read("live/big.mp4") == data
    assert len(recorder.progress()) > 1
    assert sum(recorder.progress()) == len(data)


def test_put_file_path_and_pathlike(open_container: LocalContainer, tmp_path: Path) -> None:
    f = tmp_path / "seg 1.ts"
    f.write_bytes(b"T" * 70_000)
    client = make_client(open_container)
    client.put("live/f1.ts", f)
    client.put("live/f2.ts", Path(str(f)))
    assert open_container.read("live/f1.ts") == open_container.read("live/f2.ts") == b"T" * 70_000


def test_put_file_object_from_its_offset(open_container: LocalContainer) -> None:
    f = io.BytesIO(b"HEADER" + b"payload" * 100)
    f.seek(6)
    make_client(open_container).put("live/obj.m4s", f)
    assert open_container.read("live/obj.m4s") == b"payload" * 100


def test_put_generator_is_chunked(open_container: LocalContainer) -> None:
    pieces = [b"#EXTM3U\n", b"#EXT-X-VERSION:7\n", b"", b"seg1.m4s\n"]
    result = make_client(open_container).put("live/index.m3u8", (p for p in pieces))
    assert open_container.read("live/index.m3u8") == b"".join(pieces)
    put = open_container.requests[-1]
    assert put.header("Transfer-Encoding") == "chunked"
    assert put.header("Content-Length") is None
    assert result.bytes_sent == len(b"".join(pieces))


def test_put_unseekable_file_object_is_streamed(open_container: LocalContainer) -> None:
    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self._data = io.BytesIO(b"pipe" * 1000)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self._data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    make_client(open_container).put("live/pipe.aac", Pipe())
    assert open_container.read("live/pipe.aac") == b"pipe" * 1000
    assert open_container.requests[-1].header("Transfer-Encoding") == "chunked"


def test_streaming_availability_is_chunked_even_for_bytes(open_container: LocalContainer) -> None:
    make_client(open_container).put("live/s.ts", b"x" * 500, upload_availability="streaming")
    req = open_container.requests[-1]
    assert req.header("Transfer-Encoding") == "chunked"
    assert req.header("x-amz-upload-availability") == "STREAMING"
    assert open_container.describe("live/s.ts").upload_availability == "STREAMING"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("live/a/index.m3u8", "application/vnd.apple.mpegurl"),
        ("live/manifest.mpd", "application/dash+xml"),
        ("live/seg_001.ts", "video/MP2T"),
        ("live/chunk-1.m4s", "video/iso.segment"),
        ("live/init.mp4", "video/mp4"),
        ("live/v.cmfv", "video/mp4"),
        ("live/a.cmfa", "audio/mp4"),
        ("live/a.aac", "audio/aac"),
        ("live/subs.vtt", "text/vtt"),
        ("live/k.key", "application/octet-stream"),
        ("live/thumb.JPG", "image/jpeg"),
        ("live/noext", "application/octet-stream"),
    ],
)
def test_content_type_inferred_and_stored(
    open_container: LocalContainer, path: str, expected: str
) -> None:
    make_client(open_container).put(path, b"x")
    assert open_container.describe(path).content_type == expected


def test_explicit_headers_and_cache_control_rule(open_container: LocalContainer) -> None:
    client = make_client(
        open_container,
        config=IngestConfig(ca_bundle=open_container.ca_bundle, cache_control=live_cache_control),
    )
    client.put("live/index.m3u8", b"#EXTM3U\n")
    client.put("live/seg.ts", b"ts")
    client.put("live/x.ts", b"x", content_type="application/x-custom+bin",
               cache_control="no-store", storage_class="temporal")
    assert open_container.describe("live/index.m3u8").cache_control == "max-age=1"
    assert open_container.describe("live/seg.ts").cache_control == "max-age=31536000"
    meta = open_container.describe("live/x.ts")
    assert (meta.content_type, meta.cache_control) == ("application/x-custom+bin", "no-store")
    assert open_container.requests[-1].header("x-amz-storage-class") == "TEMPORAL"


def test_head_get_stream_delete_list(open_container: LocalContainer) -> None:
    client = make_client(open_container)
    for i in range(5):
        client.put(f"live/l/s{i}.ts", bytes([i]) * (i + 1), cache_control="max-age=9")
    info = client.head("live/l/s3.ts")
    assert (info.size, info.content_type, info.cache_control) == (4, "video/MP2T", "max-age=9")
    assert info.etag == open_container.describe("live/l/s3.ts").etag
    assert info.last_modified is not None
    assert client.get("live/l/s2.ts") == b"\x02" * 3
    with client.get_stream("live/l/s4.ts") as stream:
        assert stream.info.size == 5
        assert b"".join(stream) == b"\x04" * 5
    names = [item.name for item in client.list("live/l", page_size=2)]
    assert names == [f"s{i}.ts" for i in range(5)]
    assert sum(1 for r in open_container.requests if r.path.startswith("/?Path=")) == 3
    top = list(client.list("live"))
    assert [(i.name, i.type) for i in top] == [("l", "FOLDER")]
    client.delete("live/l/s0.ts")
    with pytest.raises(ObjectNotFoundError) as err:
        client.head("live/l/s0.ts")
    assert err.value.status == 404
    assert err.value.path == "live/l/s0.ts"
    with pytest.raises(ObjectNotFoundError):
        client.get("live/l/s0.ts")
    with pytest.raises(ObjectNotFoundError):
        client.delete("live/l/s0.ts")


def test_origin_refusal_is_access_denied_and_not_retried(ca: LocalCA) -> None:
    # MediaStore's default policy: account only, so anonymous writes are refused.
    with LocalContainer(ca=ca) as container:
        client = make_client(container)
        with pytest.raises(AccessDeniedError) as err:
            client.put("live/x.ts", b"x")
        assert err.value.status == 403
        assert err.value.code == "AccessDeniedException"
        assert len(container.requests) == 1


def test_tls_is_verified_by_default_and_failure_is_not_retried(
    open_container: LocalContainer,
) -> None:
    sleep = FakeSleep()
    client = IngestClient(open_container.endpoint, sleep=sleep)
    with pytest.raises(TransportError) as err:
        client.put("live/x.ts", b"x")
    assert "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    assert err.value.path == "live/x.ts"
    assert sleep.delays == []
    assert open_container.paths() == []


# --- validation happens before any request ----------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["", "/live/a.ts", "live//a.ts", "live/a.ts/", "live/a b.ts", "live/é.ts", "live/a?.ts",
     "/".join(["d"] * 11) + "/f.ts", "a" * 901, "live/../x.ts", "live/./x.ts"],
)
def test_invalid_path_sends_nothing(scripted: ScriptedServer, path: str) -> None:
    client, _ = scripted_client(scripted)
    with pytest.raises(InvalidPathError):
        client.put(path, b"x")
    with pytest.raises(InvalidPathError):
        client.get(path)
    assert scripted.requests == []


@pytest.mark.parametrize(
    "content_type", ["", "text/plain; charset=utf-8", "a" * 256, "video/mp4\r\nX: y", "vidéo/mp4"]
)
def test_invalid_content_type_sends_nothing(scripted: ScriptedServer, content_type: str) -> None:
    client, _ = scripted_client(scripted)
    with pytest.raises(InvalidContentTypeError) as err:
        client.put("live/a.ts", b"x", content_type=content_type)
    assert err.value.path == "live/a.ts"
    assert scripted.requests == []


@pytest.mark.parametrize(
    "kwargs",
    [{"storage_class": "STANDARD"}, {"upload_availability": "fast"},
     {"cache_control": "max-age=1\r\nX-Evil: 1"}],
)
def test_invalid_options_send_nothing(scripted: ScriptedServer, kwargs: dict[str, str]) -> None:
    client, _ = scripted_client(scripted)
    with pytest.raises(InvalidInputError):
        client.put("live/a.ts", b"x", **kwargs)
    with pytest.raises(InvalidInputError):
        client.put("live/a.ts", 12345)  # not a body
    assert scripted.requests == []


# --- status handling and retries --------------------------------------------------------------


def test_403_is_not_retried(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 403)]
    client, sleep = scripted_client(scripted)
    with pytest.raises(AccessDeniedError) as err:
        client.put("live/a.ts", b"x")
    assert err.value.code == "AccessDeniedException"
    assert err.value.path == "live/a.ts"
    assert len(scripted.requests) == 1
    assert sleep.delays == []


@pytest.mark.parametrize("status", [400, 401, 409, 413])
def test_other_client_errors_are_not_retried(scripted: ScriptedServer, status: int) -> None:
    scripted.actions = [("status", status)]
    client, sleep = scripted_client(scripted)
    with pytest.raises(HTTPStatusError) as err:
        client.put("live/a.ts", b"x")
    assert err.value.status == status
    assert not isinstance(err.value, (AccessDeniedError, ObjectNotFoundError))
    assert len(scripted.requests) == 1
    assert sleep.delays == []


def test_503_with_retry_after_then_success(scripted: ScriptedServer) -> None:
    scripted.actions = [
        ("status", 503, {"Retry-After": "7"}),
        ("status", 503, {"Retry-After": "2"}),
    ]
    recorder = Recorder()
    client, sleep = scripted_client(scripted, subscribers=[recorder])
    data = b"segment" * 1000
    result = client.put("live/a.ts", data)
    assert sleep.delays == [7.0, 2.0]
    assert result.attempts == 3
    assert result.retried_body
    assert result.bytes_sent == len(data)
    assert scripted.stored["/live/a.ts"] == data
    assert [r.status for r in scripted.requests] == [503, 503, 200]
    # each failed attempt is rewound: +n, -n, +n, -n, +n
    assert sum(recorder.progress()) == len(data)
    assert recorder.progress().count(-len(data)) == 2


def test_retry_after_http_date_and_cap(scripted: ScriptedServer) -> None:
    scripted.actions = [
        ("status", 429, {"Retry-After": "Sun, 06 Nov 1994 08:49:40 GMT"}),
        ("status", 503, {"Retry-After": "3600"}),
    ]
    now = email.utils.parsedate_to_datetime("Sun, 06 Nov 1994 08:49:40 GMT").timestamp() - 30
    client, sleep = scripted_client(
        scripted,
        config=IngestConfig(retry=RetryPolicy(max_attempts=3, retry_after_cap=60)),
        clock=lambda: now,
    )
    client.put("live/a.ts", b"x")
    assert sleep.delays == [30.0, 60.0]


def test_backoff_uses_full_jitter_from_rng(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 500), ("status", 502), ("status", 504)]
    sleep = FakeSleep()
    draws = iter([0.25, 1.0, 0.5])
    client = IngestClient(
        scripted.base_url,
        config=IngestConfig(retry=RetryPolicy(max_attempts=4, backoff_base=0.2, backoff_cap=0.5)),
        sleep=sleep,
        rng=lambda: next(draws),
    )
    assert client.put("live/a.ts", b"x").attempts == 4
    assert sleep.delays == pytest.approx([0.25 * 0.2, 1.0 * 0.4, 0.5 * 0.5])


def test_exhaustion_reports_attempts_and_last_error(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 503)] * 10
    recorder = Recorder()
    client, sleep = scripted_client(scripted, subscribers=[recorder])
    with pytest.raises(RetriesExhaustedError) as err:
        client.put("live/a.ts", b"abc")
    assert err.value.attempts == 4
    assert len(scripted.requests) == 4
    assert len(sleep.delays) == 3
    assert isinstance(err.value.last_error, HTTPStatusError)
    assert err.value.last_error.status == 503
    assert err.value.__cause__ is err.value.last_error
    assert err.value.path == "live/a.ts"
    done = [e for kind, e in recorder.events if kind == "done"]
    assert len(done) == 1
    assert done[0]["exception"] is err.value
    assert done[0]["result"] is None


def test_get_and_head_retry_too(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 503), ("status", 500)]
    client, sleep = scripted_client(scripted)
    scripted.stored.clear()
    client.head("live/a.ts")
    assert len(sleep.delays) == 2
    assert [r.method for r in scripted.requests] == ["HEAD"] * 3


def reset_then_ok(server: ScriptedServer, after: int, times: int = 1) -> None:
    server.actions = [("reset_after", after)] * times


@pytest.mark.parametrize("kind", ["bytes", "file", "fileobj", "generator"])
def test_connection_reset_mid_body_then_success(
    scripted: ScriptedServer, tmp_path: Path, kind: str
) -> None:
    data = hashlib.sha256(b"x").digest() * (600 * 1024 // 32)  # 600 KiB
    reset_then_ok(scripted, after=64 * 1024)
    f = tmp_path / "seg.ts"
    f.write_bytes(data)
    body: Any = {
        "bytes": data,
        "file": f,
        "fileobj": io.BytesIO(data),
        "generator": (data[i : i + 50_000] for i in range(0, len(data), 50_000)),
    }[kind]
    recorder = Recorder()
    client, sleep = scripted_client(scripted, subscribers=[recorder])
    result = client.put("live/seg.ts", body)
    assert scripted.stored["/live/seg.ts"] == data
    assert result.attempts == 2
    assert result.retried_body
    assert len(sleep.delays) == 1
    progress = recorder.progress()
    # Whatever the failed attempt reported is taken back by one negative event (when the
    # reset came before any byte was counted there is nothing to take back), and the
    # net progress is exactly the body.
    negatives = [i for i, p in enumerate(progress) if p < 0]
    assert len(negatives) <= 1
    if negatives:
        assert sum(progress[: negatives[0] + 1]) == 0
    else:
        assert all(p > 0 for p in progress)
    assert sum(progress) == len(data)


def test_generator_beyond_retry_buffer_is_not_retryable(scripted: ScriptedServer) -> None:
    reset_then_ok(scripted, after=200 * 1024)
    client, sleep = scripted_client(
        scripted, config=IngestConfig(retry_buffer_limit=64 * 1024)
    )
    pieces = (b"z" * 16 * 1024 for _ in range(64))  # 1 MiB
    with pytest.raises(BodyNotRetryableError) as err:
        client.put("live/a.ts", pieces)
    assert err.value.attempts == 1
    assert err.value.path == "live/a.ts"
    assert isinstance(err.value.__cause__, TransportError)
    # A request the server cut off enters the log when its handler finishes, which
    # may be after the client has seen the reset: wait for it, then count.
    scripted.wait_for_request(lambda r: r.path == "/live/a.ts")
    assert len(scripted.requests) == 1
    assert sleep.delays == []


def test_connection_refused_is_retried_then_exhausted() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleep = FakeSleep()
    client = IngestClient(
        f"http://127.0.0.1:{port}", config=IngestConfig(retry=RetryPolicy(max_attempts=3)),
        sleep=sleep, rng=lambda: 0.0,
    )
    with pytest.raises(RetriesExhaustedError) as err:
        client.put("live/a.ts", b"x")
    assert err.value.attempts == 3
    assert isinstance(err.value.last_error, TransportError)
    assert err.value.last_error.path == "live/a.ts"


def test_early_error_response_while_sending_a_body(scripted: ScriptedServer) -> None:
    scripted.actions = [("early_status", 403)]
    client, _ = scripted_client(scripted)
    with pytest.raises(AccessDeniedError):  # the answer is read even though sending failed
        client.put("live/a.ts", b"q" * (4 * 1024 * 1024))
    assert len(scripted.requests) == 1
    # the next request on a fresh connection works
    client.put("live/b.ts", b"ok")
    assert scripted.stored["/live/b.ts"] == b"ok"


def test_body_iterable_error_is_raised_as_is(scripted: ScriptedServer) -> None:
    class Boom(Exception):
        pass

    def pieces() -> Iterator[bytes]:
        yield b"a" * 1000
        raise Boom("encoder died")

    client, sleep = scripted_client(scripted)
    with pytest.raises(Boom):
        client.put("live/a.ts", pieces())
    with pytest.raises(InvalidInputError):
        client.put("live/b.ts", iter(["text", "not bytes"]))  # type: ignore[list-item]
    assert sleep.delays == []
    client.put("live/c.ts", b"after")
    assert scripted.stored["/live/c.ts"] == b"after"


# --- put_many ---------------------------------------------------------------------------------


def test_put_many_reports_each_item_and_keeps_order(open_container: LocalContainer) -> None:
    recorder = Recorder()
    client = make_client(open_container, subscribers=[recorder])
    items: list[Any] = [(f"live/m/s{i}.ts", bytes([i]) * 100) for i in range(12)]
    items.insert(3, ("live/bad path.ts", b"x"))
    items.insert(7, PutRequest("live/m/x.ts", b"x", content_type="bad type; x"))
    items.insert(9, ("not-a-tuple-item",))
    outcomes = client.put_many(items, max_concurrency=4)
    assert [o.path for o in outcomes][:3] == ["live/m/s0.ts", "live/m/s1.ts", "live/m/s2.ts"]
    assert [o.ok for o in outcomes].count(False) == 3
    assert isinstance(outcomes[3].error, InvalidPathError)
    assert isinstance(outcomes[7].error, InvalidContentTypeError)
    assert isinstance(outcomes[9].error, InvalidInputError)
    ok = [o.unwrap() for o in outcomes if o.ok]
    assert len(ok) == 12
    for i in range(12):
        assert open_container.read(f"live/m/s{i}.ts") == bytes([i]) * 100
    with pytest.raises(InvalidPathError):
        outcomes[3].unwrap()
    done = [e for kind, e in recorder.events if kind == "done"]
    assert len(done) == 14


def test_put_many_origin_failure_does_not_hide_others(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 403)]
    client, _ = scripted_client(scripted)
    outcomes = client.put_many([(f"live/{i}.ts", b"d") for i in range(6)], max_concurrency=1)
    assert [o.ok for o in outcomes] == [False, True, True, True, True, True]
    assert isinstance(outcomes[0].error, AccessDeniedError)


def test_put_many_consumes_items_lazily(open_container: LocalContainer) -> None:
    finished = itertools.count()
    done_count = [0]

    class Done:
        def on_done(self, **kwargs: Any) -> None:
            done_count[0] = next(finished) + 1

    pulled_ahead: list[int] = []

    def items() -> Iterator[tuple[str, bytes]]:
        for i in range(40):
            pulled_ahead.append(i - done_count[0])
            yield (f"live/lazy/{i}.ts", b"x" * 10)

    client = make_client(open_container, subscribers=[Done()])
    outcomes = client.put_many(items(), max_concurrency=2)
    assert all(o.ok for o in outcomes)
    assert len(outcomes) == 40
    assert max(pulled_ahead) <= 2 * 2 + 1


# --- signed requests --------------------------------------------------------------------------


def test_generic_json_error_message_is_kept(scripted: ScriptedServer) -> None:
    scripted.actions = [("status", 404)]
    client, _ = scripted_client(scripted)
    with pytest.raises(ObjectNotFoundError) as err:
        client.get("live/nothing.ts")
    assert "scripted" in str(err.value)
    assert err.value.code == "ObjectNotFoundException"


def test_request_json_reply_used_for_result(scripted: ScriptedServer) -> None:
    client, _ = scripted_client(scripted)
    result = client.put("live/a.ts", b"abc")
    assert result.etag == "etag-1"
    assert result.storage_class == "TEMPORAL"
    assert result.content_sha256 == hashlib.sha256(b"abc").hexdigest()
    assert json.loads(json.dumps(result.url)) == scripted.base_url + "/live/a.ts"
    assert scripted.headers_seen[-1]["User-Agent"].startswith("mediastore-ingest")


def test_read_timeout_is_a_transport_error(scripted: ScriptedServer) -> None:
    scripted.actions = [("hang",)]
    client, _ = scripted_client(
        scripted, config=IngestConfig(read_timeout=0.2, retry=RetryPolicy(max_attempts=1))
    )
    with pytest.raises(RetriesExhaustedError) as err:
        client.get("live/a.ts")
    assert isinstance(err.value.last_error, TransportError)
    assert "ReadTimeout" in str(err.value.last_error)


def test_proxy_url_sends_absolute_uris_to_the_proxy(scripted: ScriptedServer) -> None:
    target = IngestClient(
        "http://origin.invalid:8080", config=IngestConfig(proxy_url=scripted.base_url)
    )
    target.put("live/a.ts", b"via proxy")
    assert scripted.requests[-1].path == "http://origin.invalid:8080/live/a.ts"
    assert scripted.stored["http://origin.invalid:8080/live/a.ts"] == b"via proxy"


def test_streaming_upload_is_sent_as_it_is_produced(open_container: LocalContainer) -> None:
    seen_by_origin: list[bytes] = []

    def encoder() -> Iterator[bytes]:
        yield b"A" * 1000
        # the first piece is at the origin (readable) before the second is produced
        seen_by_origin.append(open_container.wait_for_streaming_upload("live/s.ts", min_bytes=1000))
        yield b"B" * 1000

    make_client(open_container).put("live/s.ts", encoder(), upload_availability="streaming")
    assert seen_by_origin == [b"A" * 1000]
    assert open_container.read("live/s.ts") == b"A" * 1000 + b"B" * 1000


def test_verify_false_connects_without_the_ca(open_container: LocalContainer) -> None:
    from urllib3.exceptions import InsecureRequestWarning

    client = IngestClient(open_container.endpoint, config=IngestConfig(verify=False))
    with pytest.warns(InsecureRequestWarning):
        client.put("live/insecure.ts", b"x")
    assert open_container.read("live/insecure.ts") == b"x"


# --- malformed answers from the origin or edge (MockTransport) ---------------------------------


@pytest.mark.parametrize(
    "value", ["\u00b2", "\u0663", "9" * 5000, "1" + "0" * 20],
    ids=["superscript", "arabic-indic", "5000-digits", "21-digits"],
)
def test_unreadable_retry_after_is_ignored_and_backoff_used(value: str) -> None:
    transport, seen = scripted_transport(
        Response(503, {"Retry-After": value}, b""), Response(200, {}, b'{"ETag":"e"}')
    )
    sleep = FakeSleep()
    client = mock_client(transport, sleep=sleep, rng=lambda: 0.5)
    result = client.put("live/a.ts", b"abc")
    assert result.attempts == 2
    assert result.etag == "e"
    assert sleep.delays == [RetryPolicy().backoff(1, lambda: 0.5)]
    assert len(seen) == 2


def test_unreadable_content_length_on_head_is_tolerated() -> None:
    transport, _ = scripted_transport(Response(200, {"Content-Length": "\u00b2", "ETag": "e"}, b""))
    info = mock_client(transport).head("live/a.ts")
    assert info.size is None
    assert info.etag == "e"
    transport, _ = scripted_transport(Response(200, {"Content-Length": "9" * 5000}, b""))
    assert mock_client(transport).head("live/a.ts").size is None


def test_deeply_nested_success_body_is_tolerated() -> None:
    transport, _ = scripted_transport(Response(200, {"ETag": "h"}, DEEP))
    result = mock_client(transport).put("live/a.ts", b"abc")
    assert result.status == 200
    assert result.etag == "h"
    assert result.content_sha256 is None


def test_deeply_nested_error_body_is_a_status_error() -> None:
    transport, _ = scripted_transport(Response(400, {}, b'{"a":' + DEEP))
    with pytest.raises(HTTPStatusError) as err:
        mock_client(transport).put("live/a.ts", b"abc")
    assert err.value.status == 400
    assert err.value.path == "live/a.ts"


def test_listing_with_absurd_dates_is_tolerated() -> None:
    items = [
        {"Name": "a.ts", "Type": "OBJECT", "LastModified": 1e300, "ContentLength": True},
        {"Name": "b.ts", "Type": "OBJECT", "LastModified": math.nan},
        {"Name": "c.ts", "Type": "OBJECT", "LastModified": -1e300},
        {"Name": "d.ts", "Type": "OBJECT", "LastModified": 0, "ContentLength": 3},
    ]
    body = json.dumps({"Items": items}).encode()  # json writes NaN, Python reads it
    transport, _ = scripted_transport(Response(200, {}, body))
    listed = list(mock_client(transport).list("live"))
    assert [i.name for i in listed] == ["a.ts", "b.ts", "c.ts", "d.ts"]
    assert [i.last_modified is None for i in listed] == [True, True, True, False]
    assert [i.content_length for i in listed] == [None, None, None, 3]


def test_unreadable_listing_is_an_ingest_error() -> None:
    transport, _ = scripted_transport(Response(200, {}, DEEP))
    with pytest.raises(IngestError, match="listing"):
        list(mock_client(transport).list("live"))


def test_hashed_body_generator_error_is_raised_as_is() -> None:
    # as with every other origin and transport: the caller's own exception, never
    # the client's internal wrapper
    client = mock_client(MockTransport(never_called), config=IngestConfig(content_sha256=True))
    with pytest.raises(CameraUnplugged):
        client.put("live/a.ts", broken_stream())
    s3 = mock_client(MockTransport(never_called), config=IngestConfig(origin="s3"))
    with pytest.raises(CameraUnplugged):
        s3.put("a.ts", broken_stream())


def test_unseekable_file_read_error_is_invalid_input_with_the_real_transport(
    writable_container: LocalContainer,
) -> None:
    container = writable_container
    assert container.ca_bundle is not None
    with IngestClient(container.endpoint, config=IngestConfig(ca_bundle=container.ca_bundle),
                      sleep=lambda s: None) as client:
        client.put("live/ok.ts", b"ok")  # the data path works
        with pytest.raises(InvalidInputError, match="Input/output error") as err:
            client.put("live/a.ts", UnreadableFile(fail_after=2))
    assert isinstance(err.value.__cause__, OSError)
    assert "live/a.ts" not in container.paths()
