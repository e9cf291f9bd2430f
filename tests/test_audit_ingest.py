"""Audit findings on the ingest client, the relay and their commands: malformed
answers, broken bodies, bad construction input and bad command-line input all end as
typed errors (one-line CLI errors), and neither the relay nor ``sync`` loses or
misorders a segment silently.

Real loopback servers (LocalContainer, LocalStack, the relay) wherever a network is
involved; the public ``MockTransport`` where a server must answer something malformed.
"""

from __future__ import annotations

import datetime
import http.client
import json
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest.cli import main
from mediastore_ingest.errors import (
    HTTPStatusError,
    IngestError,
    InvalidInputError,
    InvalidPathError,
)
from mediastore_ingest.ingest import (
    Headers,
    IngestClient,
    IngestConfig,
    MockTransport,
    ProgressLine,
    Request,
    Response,
    RetryPolicy,
    Urllib3Transport,
    guess_content_type,
    live_cache_control,
    parse_retry_after,
)
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.testing import LocalCA, LocalContainer
from tests._support.policies import OPEN_WRITE

BASE = "https://127.0.0.1"
DEEP = b"[" * 100_000


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def scripted(*responses: Response) -> tuple[MockTransport, list[Request]]:
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
    kwargs.setdefault("sleep", FakeSleep())
    kwargs.setdefault("rng", lambda: 0.5)
    return IngestClient(BASE, transport=transport, **kwargs)


@pytest.fixture(scope="module")
def ca() -> Iterator[LocalCA]:
    with LocalCA() as authority:
        yield authority


@pytest.fixture
def container(ca: LocalCA) -> Iterator[LocalContainer]:
    with LocalContainer(ca=ca, policy=OPEN_WRITE) as c:
        yield c


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected_code: int = 2) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err
    assert err.startswith("mediastore-ingest: error: "), err
    assert err.count("\n") == 1, err


# --- M1: malformed origin / edge answers ------------------------------------------------


@pytest.mark.parametrize(
    "value", ["\u00b2", "\u0663", "9" * 5000, "1" + "0" * 20],
    ids=["superscript", "arabic-indic", "5000-digits", "21-digits"],
)
def test_unreadable_retry_after_is_ignored_and_backoff_used(value: str) -> None:
    transport, seen = scripted(
        Response(503, {"Retry-After": value}, b""), Response(200, {}, b'{"ETag":"e"}')
    )
    sleep = FakeSleep()
    client = mock_client(transport, sleep=sleep, rng=lambda: 0.5)
    result = client.put("live/a.ts", b"abc")
    assert result.attempts == 2
    assert result.etag == "e"
    assert sleep.delays == [RetryPolicy().backoff(1, lambda: 0.5)]
    assert len(seen) == 2


def test_parse_retry_after_forms_and_bad_input() -> None:
    assert parse_retry_after("7", now=0) == 7.0
    assert parse_retry_after(" 12 ", now=0) == 12.0
    assert parse_retry_after("\u00b2", now=0) is None
    assert parse_retry_after("9" * 5000, now=0) is None
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now=784111770) == 10.0
    assert parse_retry_after("Sun, 06 Nov 99999 08:49:40 GMT", now=0) is None
    assert parse_retry_after(None, now=0) is None
    assert parse_retry_after(b"120", now=0) == 120.0  # header bytes, as before
    with pytest.raises(InvalidInputError, match="Retry-After"):
        parse_retry_after(5, now=0)  # type: ignore[arg-type]
    # ``now`` is needed only for a date; an unusable one makes a date unreadable.
    for now in ("x", None, math.nan):
        assert parse_retry_after("7", now=now) == 7.0  # type: ignore[arg-type]
        assert parse_retry_after("Sun, 06 Nov 1994 08:49:40 GMT", now=now) is None  # type: ignore[arg-type]


def test_unreadable_content_length_on_head_is_tolerated() -> None:
    transport, _ = scripted(Response(200, {"Content-Length": "\u00b2", "ETag": "e"}, b""))
    info = mock_client(transport).head("live/a.ts")
    assert info.size is None
    assert info.etag == "e"
    transport, _ = scripted(Response(200, {"Content-Length": "9" * 5000}, b""))
    assert mock_client(transport).head("live/a.ts").size is None


def test_deeply_nested_success_body_is_tolerated() -> None:
    transport, _ = scripted(Response(200, {"ETag": "h"}, DEEP))
    result = mock_client(transport).put("live/a.ts", b"abc")
    assert result.status == 200
    assert result.etag == "h"
    assert result.content_sha256 is None


def test_deeply_nested_error_body_is_a_status_error() -> None:
    transport, _ = scripted(Response(400, {}, b'{"a":' + DEEP))
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
    transport, _ = scripted(Response(200, {}, body))
    listed = list(mock_client(transport).list("live"))
    assert [i.name for i in listed] == ["a.ts", "b.ts", "c.ts", "d.ts"]
    assert [i.last_modified is None for i in listed] == [True, True, True, False]
    assert [i.content_length for i in listed] == [None, None, None, 3]


def test_unreadable_listing_is_an_ingest_error() -> None:
    transport, _ = scripted(Response(200, {}, DEEP))
    with pytest.raises(IngestError, match="listing"):
        list(mock_client(transport).list("live"))


# --- M2: body read errors ------------------------------------------------------------------


def test_s3_origin_streamed_body_of_str_is_invalid_input() -> None:
    client = mock_client(MockTransport(never_called), config=IngestConfig(origin="s3"))
    with pytest.raises(InvalidInputError, match="bytes"):
        client.put("a.ts", iter(["abc"]))


class CameraUnplugged(Exception):
    pass


def broken_stream() -> Iterator[bytes]:
    yield b"abc"
    raise CameraUnplugged("camera unplugged")


def test_hashed_body_generator_error_is_raised_as_is() -> None:
    # as with every other origin and transport: the caller's own exception, never
    # the client's internal wrapper
    client = mock_client(MockTransport(never_called), config=IngestConfig(content_sha256=True))
    with pytest.raises(CameraUnplugged):
        client.put("live/a.ts", broken_stream())
    s3 = mock_client(MockTransport(never_called), config=IngestConfig(origin="s3"))
    with pytest.raises(CameraUnplugged):
        s3.put("a.ts", broken_stream())


def test_mock_transport_unwraps_body_errors() -> None:
    client = mock_client(MockTransport(lambda r: Response(200, {}, b"{}")))
    with pytest.raises(InvalidInputError, match="bytes"):
        client.put("live/a.ts", iter(["abc"]))
    with pytest.raises(CameraUnplugged):
        client.put("live/b.ts", broken_stream())


class _Unseekable:
    """A non-seekable binary file object whose read() fails."""

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


def test_unseekable_file_read_error_is_invalid_input_with_the_real_transport(
    container: LocalContainer,
) -> None:
    assert container.ca_bundle is not None
    with IngestClient(container.endpoint, config=IngestConfig(ca_bundle=container.ca_bundle),
                      sleep=lambda s: None) as client:
        client.put("live/ok.ts", b"ok")  # the data path works
        with pytest.raises(InvalidInputError, match="Input/output error") as err:
            client.put("live/a.ts", _Unseekable(fail_after=2))
    assert isinstance(err.value.__cause__, OSError)
    assert "live/a.ts" not in container.paths()


def test_unseekable_file_read_error_through_mock_transport() -> None:
    client = mock_client(MockTransport(never_called))
    with pytest.raises(InvalidInputError, match="Input/output error"):
        client.put("live/a.ts", _Unseekable(fail_after=0))


@pytest.mark.parametrize("name", ["foo\0bar", "seg\ud800.ts"])
def test_unusable_file_path_body_is_invalid_input(name: str) -> None:
    client = mock_client(MockTransport(never_called))
    with pytest.raises(InvalidInputError, match="body file"):
        client.put("live/a.ts", name)


def test_pathlike_body_with_a_bad_fspath_is_invalid_input() -> None:
    class Bad:
        def __fspath__(self) -> Any:
            return 5

    with pytest.raises(InvalidInputError):
        mock_client(MockTransport(never_called)).put("live/a.ts", Bad())


# --- M3: construction failures ----------------------------------------------------------------


def test_bad_ca_bundle_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="ca_bundle"):
        IngestClient(BASE, config=IngestConfig(ca_bundle=str(tmp_path / "nonexistent.pem")))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    with pytest.raises(InvalidInputError, match="ca_bundle"):
        IngestClient(BASE, config=IngestConfig(ca_bundle=str(junk)))
    with pytest.raises(InvalidInputError, match="ca_bundle"):
        IngestConfig(ca_bundle=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("proxy", ["ftp://x", "http://[::1"])
def test_bad_proxy_url_is_invalid_input(proxy: str) -> None:
    with pytest.raises(InvalidInputError, match="proxy"):
        IngestClient(BASE, config=IngestConfig(proxy_url=proxy))


def test_bad_transport_arguments_are_invalid_input() -> None:
    for kwargs in (
        {"connect_timeout": -1},
        {"read_timeout": math.inf},
        {"connect_timeout": "5"},
        {"max_pool_connections": 0},
    ):
        with pytest.raises(InvalidInputError):
            Urllib3Transport(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["connect_timeout", "read_timeout", "policy_renew_margin"])
def test_non_finite_timeouts_are_refused(field: str) -> None:
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(InvalidInputError, match=field):
            IngestConfig(**{field: value})  # type: ignore[arg-type]


def test_direct_mode_bad_endpoint_or_region_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="notaurl"):
        IngestClient.direct("notaurl", region_name="us-west-2")
    with pytest.raises(InvalidInputError, match="us west"):
        IngestClient.direct("https://127.0.0.1:9", region_name="us west")


# --- H4: the relay never loses a segment to an unexpected exception -----------------------------


def relay_put(relay: SigningRelay, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", relay.port, timeout=20)
    try:
        conn.request("PUT", path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_relay_spools_after_an_unreadable_retry_after(tmp_path: Path) -> None:
    client = IngestClient(
        "http://127.0.0.1:9",
        transport=MockTransport(lambda r: Response(503, {"Retry-After": "\u00b2"})),
        config=IngestConfig(retry=RetryPolicy(max_attempts=2)),
        sleep=lambda s: None,
    )
    spool = tmp_path / "spool"
    config = RelayConfig(spool_dir=str(spool), streaming_segments=False)
    with SigningRelay(client=client, config=config) as relay:
        status, doc = relay_put(relay, "/live/seg1.ts", b"precious")
        stats = relay.stats()
    assert status == 502
    assert (stats.failed, stats.spooled) == (1, 1)
    assert (spool / "live" / "seg1.ts").read_bytes() == b"precious"
    assert doc["Spooled"] == str(spool / "live" / "seg1.ts")


def test_relay_unexpected_upload_exception_is_logged_counted_spooled_and_502(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(request: Request) -> Response:
        raise RuntimeError("a bug in a transport")

    client = IngestClient("http://127.0.0.1:9", transport=MockTransport(handler))
    spool = tmp_path / "spool"
    config = RelayConfig(spool_dir=str(spool), streaming_segments=False)
    caplog.set_level(logging.INFO, logger="mediastore_ingest.relay.relay")
    with SigningRelay(client=client, config=config) as relay:
        status, doc = relay_put(relay, "/live/seg1.ts", b"precious")
        # the connection handler survived: the next request is answered too
        status2, _ = relay_put(relay, "/live/seg2.ts", b"more")
        stats = relay.stats()
    assert (status, status2) == (502, 502)
    # The encoder is told where to look, not the internals; the log has the details.
    assert doc["error"] == "internal error in the relay (see its log)"
    assert "a bug in a transport" in caplog.text
    assert (stats.failed, stats.spooled) == (2, 2)
    assert (spool / "live" / "seg1.ts").read_bytes() == b"precious"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "seg1.ts" in r.getMessage()]
    assert errors
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


@pytest.mark.parametrize(
    ("breaks_at", "stored"), [(1, False), (2, True)], ids=["before-upload", "after-upload"]
)
def test_relay_survives_a_clock_that_breaks_in_an_upload_task(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breaks_at: int, stored: bool
) -> None:
    """A clock that breaks before the PUT breaks the upload task itself: 502, the
    segment spooled and counted as failed. One that breaks after it (the origin has
    the object) must not make the relay answer 502, spool it or count it as failed."""

    class Clock:
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self) -> float:
            if threading.current_thread().name.startswith("relay-upload"):
                self.calls += 1
                if self.calls >= breaks_at:
                    raise RuntimeError("clock broke")
            return 0.0

    client = IngestClient("http://127.0.0.1:9",
                          transport=MockTransport(lambda r: Response(200, {}, b"{}")))
    spool = tmp_path / "spool"
    config = RelayConfig(spool_dir=str(spool), streaming_segments=False, shutdown_timeout=5)
    caplog.set_level(logging.INFO, logger="mediastore_ingest.relay.relay")
    with SigningRelay(client=client, config=config, clock=Clock()) as relay:
        status, doc = relay_put(relay, "/live/seg1.ts", b"precious")
        stats = relay.stats()
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)
    if stored:
        assert (status, doc["Path"]) == (200, "live/seg1.ts")
        assert (stats.failed, stats.spooled) == (0, 0)
        assert "recording it failed" in caplog.text
    else:
        assert status == 502
        assert (stats.failed, stats.spooled) == (1, 1)
        assert (spool / "live" / "seg1.ts").read_bytes() == b"precious"


# --- sync: manifests are held back when a segment failed ------------------------------------------


def test_sync_holds_manifests_back_when_a_segment_fails(
    ca: LocalCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "hls"
    src.mkdir()
    (src / "seg0.ts").write_bytes(b"a" * 100)
    (src / "seg1.ts").write_bytes(b"b" * 5000)  # over the container's limit: refused
    (src / "index.m3u8").write_bytes(b"#EXTM3U\nseg0.ts\nseg1.ts\n")
    (src / "main.mpd").write_bytes(b"<MPD/>")
    with LocalContainer(ca=ca, policy=OPEN_WRITE, max_object_size=1000) as c:
        assert c.ca_bundle is not None
        argv = ["sync", str(src), "--to", "live", "--quiet", "--base-url", c.endpoint,
                "--ca-bundle", c.ca_bundle, "--max-attempts", "1"]
        code, out, err = run(capsys, *argv)
        paths = c.paths()
        puts = [r.path for r in c.requests if r.method == "PUT"]
        assert code == 1
        assert "live/seg0.ts" in paths
        assert "live/seg1.ts" not in paths
        assert "live/index.m3u8" not in paths
        assert "live/main.mpd" not in paths
        assert not any(p.endswith((".m3u8", ".mpd")) for p in puts)
        assert "failed: live/seg1.ts" in err
        assert "held back" in err
        assert "live/index.m3u8" in err
        assert "live/main.mpd" in err
        assert "Traceback" not in err
        assert "1 of 4 files uploaded" in out
        # once the segment fits, the same sync completes, manifests last
        (src / "seg1.ts").write_bytes(b"b" * 500)
        code, out, err = run(capsys, *argv)
        assert code == 0, err
        assert "4 of 4 files uploaded" in out
        assert c.read("live/index.m3u8") == b"#EXTM3U\nseg0.ts\nseg1.ts\n"
        puts = [r.path for r in c.requests if r.method == "PUT"]
        assert {p.rsplit(".", 1)[1] for p in puts[-2:]} == {"m3u8", "mpd"}


# --- the commands: one-line errors -------------------------------------------------------------------


@pytest.fixture
def key_files(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    priv = tmp_path / "private.pem"
    pub = tmp_path / "public.pem"
    priv.write_bytes(ec_key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    pub.write_bytes(ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return priv, pub


@pytest.mark.parametrize(("flag", "value"), [
    ("--expires", "\u00b2"),
    ("--expires", "9" * 5000),
    ("--expires", "+" + "9" * 5000 + "d"),
    ("--expires", "+\u0663h"),
    ("--not-before", "\u00b2"),
], ids=["superscript", "5000-digits", "5000-digit-days", "arabic-indic-hours", "not-before"])
def test_sign_url_bad_times_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path], flag: str, value: str
) -> None:
    priv, _ = key_files
    argv = ["sign-url", "https://d1.example.net/live/a.ts", "--key-id", "K1",
            "--private-key", str(priv), "--expires", "+10m", flag, value]
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err)


def test_verify_bad_now_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path]
) -> None:
    _, pub = key_files
    code, _, err = run(capsys, "verify", "https://d1.example.net/live/a.ts?Expires=1",
                       "--public-key", f"K1={pub}", "--now", "\u00b2")
    assert_one_line_error(code, err)


def put_argv(tmp_path: Path, *extra: str) -> list[str]:
    seg = tmp_path / "a.ts"
    seg.write_bytes(b"a")
    return ["put", str(seg), "--to", "live", "--quiet", "--base-url", "https://127.0.0.1:9",
            *extra]


def test_put_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key_files: tuple[Path, Path]
) -> None:
    priv, _ = key_files
    junk = tmp_path / "junk.pem"
    junk.write_text("junk\n")
    cases = [
        ["--url-expiry", "99999999999999999", "--key-id", "K1", "--private-key", str(priv)],
        ["--ca-bundle", str(tmp_path / "nonexistent.pem")],
        ["--ca-bundle", str(junk)],
    ]
    for extra in cases:
        code, _, err = run(capsys, *put_argv(tmp_path, *extra))
        assert_one_line_error(code, err)


def test_put_direct_bad_endpoint_or_region_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seg = tmp_path / "a.ts"
    seg.write_bytes(b"a")
    for extra in (["--base-url", "notaurl", "--region", "us-west-2"],
                  ["--base-url", "https://127.0.0.1:9", "--region", "us west"]):
        code, _, err = run(capsys, "put", str(seg), "--to", "live", "--quiet", "--direct",
                           *extra)
        assert_one_line_error(code, err)


def relay_argv(*extra: str) -> list[str]:
    return ["relay", "--listen", "127.0.0.1:0", "--to", "http://127.0.0.1:9", "--unsigned",
            "--log-level", "ERROR", *extra]


def test_relay_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    junk = tmp_path / "junk.pem"
    junk.write_text("junk\n")
    latin1 = tmp_path / "setup-latin1.json"
    latin1.write_bytes(b'{"format": "caf\xe9"}')
    deep = tmp_path / "setup-deep.json"
    deep.write_bytes(DEEP)
    cases = [
        ["--listen", "127.0.0.1:\u00b2"],
        ["--listen", "127.0.0.1:" + "9" * 5000],
        ["--max-segment-mb", "nan"],
        ["--max-segment-mb", "inf"],
        ["--spool", str(regular)],
        ["--spool", str(regular / "below")],
        ["--ca-bundle", str(tmp_path / "nonexistent.pem")],
        ["--ca-bundle", str(junk)],
        ["--read-timeout", "inf"],
        ["--setup", str(latin1)],
        ["--setup", str(deep)],
    ]
    for extra in cases:
        code, _, err = run(capsys, *relay_argv(*extra))
        assert_one_line_error(code, err)


def test_demo_keep_that_is_not_a_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    for keep in (regular, regular / "below"):
        code, _, err = run(capsys, "demo", "--no-ffmpeg", "--segments", "1", "--keep",
                           str(keep))
        assert_one_line_error(code, err)
    assert regular.read_bytes() == b"x"


# --- LOW: every public entry point validates its input ----------------------------------------------


def test_client_and_put_many_refuse_bad_collections() -> None:
    with pytest.raises(InvalidInputError, match="subscribers"):
        IngestClient(BASE, transport=MockTransport(never_called), subscribers=5)  # type: ignore[arg-type]
    client = mock_client(MockTransport(never_called))
    with pytest.raises(InvalidInputError, match="items"):
        client.put_many(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="items"):
        client.put_many("live/a.ts")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="subscribers"):
        client.put_many([], subscribers=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidPathError):
        client.list(None)  # type: ignore[arg-type]


def test_headers_and_request_refuse_bad_pairs() -> None:
    for bad in (5, [1], ["ab"], [("a", "b", "c")], "ab"):
        with pytest.raises(InvalidInputError, match="headers"):
            Headers(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="headers"):
        Request("GET", "u", headers=[1])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="headers"):
        Response(200, 5)  # type: ignore[arg-type]
    assert Headers([["a", "b"]]).get("A") == "b"
    assert Headers({"a": "b"}).get("a") == "b"


def test_media_helpers_refuse_non_strings() -> None:
    with pytest.raises(InvalidInputError):
        guess_content_type(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        live_cache_control(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        live_cache_control("a.ts", segment=5)  # type: ignore[arg-type]
    assert guess_content_type("a.ts") == "video/MP2T"
    assert live_cache_control("a.m3u8") == "max-age=1"


def test_progress_line_refuses_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="clock"):
        ProgressLine(clock=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="interval"):
        ProgressLine(interval=math.nan)
    with pytest.raises(InvalidInputError, match="stream"):
        ProgressLine(5)  # type: ignore[arg-type]


def test_ingest_config_refuses_bad_field_types() -> None:
    for kwargs in (
        {"retry": 5},
        {"verify": "no"},
        {"proxy_url": 5},
        {"cache_control": "max-age=1"},
        {"content_sha256": 1},
    ):
        with pytest.raises(InvalidInputError):
            IngestConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "expiry", [99_999_999_999_999_999, datetime.timedelta(days=365 * 20)], ids=["huge", "20y"]
)
def test_url_expiry_beyond_any_signable_time_is_refused(expiry: Any) -> None:
    """Refused when the client is made, not at its first request: now (2026) plus 20
    years is past 2038."""
    clock = lambda: 1_795_000_000.0  # noqa: E731  (2026-11-16)
    with pytest.raises(InvalidInputError, match="url_expiry"):
        IngestClient(BASE, transport=MockTransport(never_called), url_expiry=expiry, clock=clock)
    IngestClient(BASE, transport=MockTransport(never_called), url_expiry=3600, clock=clock)


def test_relay_config_refuses_bad_field_types(tmp_path: Path) -> None:
    for kwargs in (
        {"allowed_peers": 5},
        {"allowed_peers": None},
        {"content_types": 5},
        {"cache_control": None},
        {"cache_control": 5},
        {"host": 5},
        {"spool_dir": 5},
        {"spool_dir": "a\0b"},
    ):
        with pytest.raises(InvalidInputError):
            RelayConfig(**kwargs)  # type: ignore[arg-type]
    config = RelayConfig()
    with pytest.raises(InvalidInputError):
        config.content_type_for(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        config.cache_control_for(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        config.object_path(None)  # type: ignore[arg-type]
    assert RelayConfig(spool_dir=tmp_path).spool_dir == str(tmp_path)  # type: ignore[arg-type]


def test_relay_spool_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    regular = tmp_path / "regular"
    regular.write_bytes(b"x")
    client = IngestClient("http://127.0.0.1:9", transport=MockTransport(never_called))
    for spool in (regular, regular / "below"):
        with pytest.raises(InvalidInputError, match="spool"):
            SigningRelay(client=client, config=RelayConfig(spool_dir=str(spool)))



# --- found in review: messages about headers and proxies show no credentials ---------


def _whole_chain(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    "item",
    [
        "User-Agent: MediaStore-Secret-TopSecretValue123456",
        ("User-Agent", "MediaStore-Secret-TopSecretValue123456", "x"),
    ],
)
def test_a_bad_header_item_is_not_shown(item: object) -> None:
    from mediastore_ingest.ingest import Headers

    with pytest.raises(InvalidInputError) as info:
        Headers([item])  # type: ignore[list-item]
    assert "TopSecretValue" not in _whole_chain(info.value)


@pytest.mark.parametrize(
    "proxy_url", ["http://user:hunter2@[::1", "ftp://token-hunter2:pw-hunter2@proxy.invalid"]
)
def test_a_bad_proxy_url_shows_no_credentials(proxy_url: str) -> None:
    from mediastore_ingest.ingest import Urllib3Transport

    with pytest.raises(InvalidInputError) as info:
        Urllib3Transport(proxy_url=proxy_url)
    assert "hunter2" not in _whole_chain(info.value)


def test_relay_config_takes_one_network_object_as_one_range() -> None:
    import ipaddress

    config = RelayConfig(allowed_peers=ipaddress.ip_network("127.0.0.0/8"))
    assert config.allowed_peers == ("127.0.0.0/8",)
