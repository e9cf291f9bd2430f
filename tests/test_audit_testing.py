"""Audit fixes in ``mediastore_ingest.testing``: typed input errors, no secret in reprs.

Every public entry point of the local stack refuses bad input with a typed error
(:class:`InvalidInputError`, or :class:`LocalStackError` for a broken store) naming the
argument, before it makes a temporary directory, a CA or a socket.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import logging
import pprint
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from mediastore_ingest.errors import InvalidInputError, LocalStackError
from mediastore_ingest.signing.keys import generate_key_pair
from mediastore_ingest.testing import (
    FaultPlan,
    FaultSchedule,
    LocalBucket,
    LocalCA,
    LocalContainer,
    LocalCredential,
    LocalEdge,
    LocalStack,
    OriginAccessControl,
    StoredObject,
)

pytest_plugins = ["pytester"]

ORIGIN = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def key_group() -> dict[str, Any]:
    return {"K2JCJMDEHXQW5F": generate_key_pair(algorithm="ecdsa").public_key}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``tempfile`` (and so a default LocalCA) create its directories here."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def pool() -> Iterator[urllib3.PoolManager]:
    with urllib3.PoolManager(retries=False) as manager:
        yield manager


# --- M4: the ingest secret never shows in a ForwardedRequest repr -----------------------


def test_forwarded_request_repr_hides_the_ingest_secret(pool: urllib3.PoolManager) -> None:
    with LocalStack() as stack:
        stack.ingest_client().put("live/a.ts", b"segment")
        r = pool.request(
            "PUT",
            stack.sign_ingest_url("live/b.ts"),
            body=b"x",
            headers={"Authorization": "Bearer token-SECRET-1", "Cookie": "sid=cookie-SECRET-2"},
        )
        assert r.status == 403  # the container refuses that Authorization; it was forwarded
        stack.playback_client().get("live/a.ts")
        secret, user_agent = stack.secret.value, stack.secret.user_agent
        playback_secret = stack.playback_secret.value
        playback_agent = stack.playback_secret.user_agent
        forwarded = stack.ingest_edge.forwarded
        playback = stack.playback_edge.forwarded
    assert [f.path for f in forwarded] == ["/live/a.ts", "/live/b.ts"]
    # The headers themselves are intact for tests that assert on them ...
    assert forwarded[0].header("User-Agent") == user_agent
    assert forwarded[1].header("Authorization") == "Bearer token-SECRET-1"
    assert forwarded[1].header("Cookie") == "sid=cookie-SECRET-2"
    assert playback[0].header("User-Agent") == playback_agent
    # ... but no repr shows the secrets: not the request's (what pytest prints for a
    # failed ``assert edge.forwarded == ...``), not its headers' (what pytest prints
    # when it drills down into two requests that differ), not a pretty-printed one.
    shown = [repr(forwarded), repr(playback), pprint.pformat(forwarded)]
    for request in [*forwarded, *playback]:
        shown += [repr(request), repr(request.headers), pprint.pformat(request.headers)]
        shown += [repr(pair) for pair in request.headers]
    text = "\n".join(shown)
    assert "MediaStore-Secret" not in text
    assert secret not in text
    assert playback_secret not in text
    assert "SECRET-1" not in text
    assert "SECRET-2" not in text
    assert "ForwardedRequest(method='PUT', path='/live/a.ts'" in repr(forwarded[0])


def _secret_in_conftest(pytester: pytest.Pytester, secret: str) -> None:
    """The stack's ingest secret, set in conftest.py so no source listing shows it."""
    pytester.makeconftest(
        f"""
        import pytest
        from mediastore_ingest.iam.document import IngestSecret

        @pytest.fixture
        def mediastore_stack_options():
            return {{"secret": IngestSecret({secret!r})}}
        """
    )


def _failing_user_tests(pytester: pytest.Pytester, *, failed: int) -> str:
    """Run the user's tests (with this package's pytest plugin); their output."""
    names = {e.name for e in importlib.metadata.entry_points(group="pytest11")}
    plugin = [] if "mediastore_ingest" in names else ["-p", "mediastore_ingest.testing.pytest_plugin"]
    result = pytester.runpytest_inprocess(*plugin, "-vv", "-p", "no:randomly")
    result.assert_outcomes(failed=failed)
    return str(result.stdout.str())


def test_a_failed_assertion_on_forwarded_requests_does_not_print_the_secret(
    pytester: pytest.Pytester,
) -> None:
    # The secret is set in conftest.py, so no traceback's source listing shows it.
    secret = "KnownIngestSecretForThisTest0123456789"
    _secret_in_conftest(pytester, secret)
    pytester.makepyfile(
        test_user="""
        def test_list(mediastore_stack, mediastore_ingest_edge):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            assert mediastore_ingest_edge.forwarded == []

        def test_drill_down(mediastore_stack, mediastore_ingest_edge):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            mediastore_stack.ingest_client().put("live/b.ts", b"b")
            first, second = mediastore_ingest_edge.forwarded
            assert first == second

        def test_one_header(mediastore_stack, mediastore_ingest_edge):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            assert mediastore_ingest_edge.forwarded[0].headers[0] == ("User-Agent", "x")
        """
    )
    output = _failing_user_tests(pytester, failed=3)
    assert "ForwardedRequest(method='PUT'" in output  # pytest did show the requests
    assert secret not in output


def test_a_failed_assertion_on_recorded_requests_does_not_print_credentials(
    pytester: pytest.Pytester,
) -> None:
    """The container's and bucket's request logs (RecordedRequest) hold what the edge
    forwarded, the ingest secret among it, and SigV4 Authorization headers."""
    secret = "KnownIngestSecretForThisTest0123456789"
    _secret_in_conftest(pytester, secret)
    pytester.makepyfile(
        test_user="""
        def test_drill_down(mediastore_stack, mediastore_container):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            mediastore_stack.ingest_client().put("live/b.ts", b"b")
            first, second = mediastore_container.requests[-2:]
            assert first == second

        def test_list(mediastore_stack, mediastore_container):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            assert mediastore_container.requests == []

        def test_oac_sigv4():  # the edge signs for an S3 origin: Authorization: AWS4-...
            from mediastore_ingest.testing import LocalStack

            with LocalStack(origin="s3") as stack:
                stack.ingest_client().put("live/c.ts", b"c")
                stack.ingest_client().put("live/d.ts", b"d")
                first, second = stack.bucket.requests[-2:]
            assert first.header("Authorization").startswith("AWS4-HMAC-SHA256 Credential=")
            assert first == second
        """
    )
    output = _failing_user_tests(pytester, failed=3)
    assert "RecordedRequest(method='PUT'" in output  # pytest did show the requests
    assert "Differing attributes" in output or "differ" in output.lower()
    assert secret not in output
    # The SigV4 Authorization header's value (its source line above has no signature).
    assert re.search(r"Signature=[0-9a-f]{64}", output) is None


def test_a_failed_assertion_on_one_header_value_does_not_print_the_secret(
    pytester: pytest.Pytester,
) -> None:
    """``assert request.user_agent == ...`` compares the value itself: pytest's text
    diff would print it, so the plugin explains such a comparison without it."""
    secret = "KnownIngestSecretForThisTest0123456789"
    _secret_in_conftest(pytester, secret)
    pytester.makepyfile(
        test_user="""
        def test_edge(mediastore_stack, mediastore_ingest_edge):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            assert mediastore_ingest_edge.forwarded[0].header("User-Agent") == "x"

        def test_container(mediastore_stack, mediastore_container):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            assert mediastore_container.requests[-1].user_agent == "MediaStore-Secret-y"

        def test_not_equal(mediastore_stack, mediastore_container):
            mediastore_stack.ingest_client().put("live/a.ts", b"a")
            agent = mediastore_container.requests[-1].user_agent
            assert agent != agent
        """
    )
    output = _failing_user_tests(pytester, failed=3)
    assert "'<redacted>' == 'x'" in output
    assert "may be a credential" in output
    assert secret not in output


def test_forwarded_request_hides_any_origin_custom_header(pool: urllib3.PoolManager) -> None:
    with LocalContainer(tls=False) as container, LocalEdge(
        container, require_signature=False, origin_headers={"X-Origin-Verify": "verify-SECRET-3"}
    ) as edge:
        pool.request("GET", edge.base_url + "/live/a.ts", headers={"X-Viewer": "shown"})
        (request,) = edge.forwarded
    assert request.header("X-Origin-Verify") == "verify-SECRET-3"
    assert "verify-SECRET-3" not in repr(request.headers)
    assert "shown" in repr(request.headers)  # other headers stay readable when debugging


# --- LocalCA ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"validity": 5}, "validity"),
        ({"validity": datetime.timedelta(0)}, "validity"),
        ({"common_name": ""}, "common_name"),
        ({"common_name": 5}, "common_name"),
        ({"common_name": "x" * 65}, "common_name"),
        ({"common_name": "\ud800"}, "common_name"),
        ({"now": 5}, "now"),
        ({"directory": 5}, "directory"),
    ],
)
def test_local_ca_refuses_bad_arguments(
    private_tmp: Path, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LocalCA(**kwargs)
    assert list(private_tmp.iterdir()) == []  # nothing was created


def test_local_ca_refuses_a_file_as_directory(private_tmp: Path) -> None:
    file = private_tmp / "not-a-dir"
    file.write_text("x")
    with pytest.raises(InvalidInputError, match="not-a-dir"):
        LocalCA(directory=file)
    assert list(private_tmp.iterdir()) == [file]


def test_local_ca_refuses_a_now_that_is_not_an_aware_datetime(private_tmp: Path) -> None:
    with pytest.raises(InvalidInputError, match="now"):
        LocalCA(now=lambda: 5)  # type: ignore[arg-type, return-value]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "hosts",
    [[""], ["\ud800"], ["bad host"], ["é.example"], [5], "localhost", None, 5, ["h" * 65]],
    ids=["empty", "surrogate", "space", "non-ascii", "int", "bare-str", "none", "five", "long"],
)
def test_issue_server_certificate_refuses_bad_hosts(hosts: Any) -> None:
    with LocalCA() as ca:
        with pytest.raises(InvalidInputError, match="host"):
            ca.issue_server_certificate(hosts)
        with pytest.raises(InvalidInputError, match="host"):
            ca.server_context(hosts)
        cert_pem, _ = ca.issue_server_certificate(["127.0.0.1", "localhost", "::1"])
    assert cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")


# --- FaultPlan -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kinds": 5}, "kinds"),
        ({"kinds": None}, "kinds"),
        ({"seed": [1]}, "seed"),
        ({"seed": object()}, "seed"),
    ],
)
def test_fault_plan_refuses_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        FaultPlan(**kwargs)


@pytest.mark.parametrize("count", ["3", 1.5, None, True, -1])
def test_fault_plan_preview_refuses_a_bad_count(count: Any) -> None:
    with pytest.raises(InvalidInputError, match="count"):
        FaultPlan(seed=3).preview(count)


def test_fault_plan_valid_input_is_unchanged() -> None:
    assert FaultPlan(seed=3, kinds="delay", failure_rate=1).preview(2) == ["delay", "delay"]
    assert FaultPlan(seed="text").preview(0) == []


# --- LocalEdge -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"origin_headers": 5}, "origin_headers"),
        ({"origin_headers": ["User-Agent"]}, "origin_headers"),
        ({"allowed_methods": [5]}, "allowed_methods"),
        ({"allowed_methods": None}, "allowed_methods"),
        ({"origin_read_timeout": "5"}, "origin_read_timeout"),
        ({"origin_read_timeout": True}, "origin_read_timeout"),
        ({"origin_connect_timeout": "5"}, "origin_connect_timeout"),
        ({"origin_connect_timeout": float("inf")}, "origin_connect_timeout"),
        ({"max_origin_connections": "5"}, "max_origin_connections"),
        ({"max_origin_connections": 1.5}, "max_origin_connections"),
        ({"port": "80"}, "port"),
        ({"port": 70000}, "port"),
        ({"host": None}, "host"),
        ({"clock": 5}, "clock"),
        ({"sleep": None}, "sleep"),
        ({"name": 5}, "name"),
        ({"origin_ca_bundle": 5}, "origin_ca_bundle"),
        ({"ca": "ca.pem"}, "ca"),
        ({"key_group": 5}, "key"),
        ({"faults": "delay"}, "faults"),
        ({"origin_access": "oac"}, "origin_access"),
    ],
)
@pytest.mark.parametrize("tls", [False, True])
def test_local_edge_refuses_bad_arguments_before_making_a_ca(
    private_tmp: Path, key_group: dict[str, Any], kwargs: dict[str, Any], match: str, tls: bool
) -> None:
    kwargs = {"key_group": key_group} | kwargs
    with pytest.raises(InvalidInputError, match=match):
        LocalEdge(ORIGIN, tls=tls, **kwargs)
    assert list(private_tmp.iterdir()) == []  # no /tmp/mediastore-ingest-ca-* left behind


@pytest.mark.parametrize("origin", [5, None, b"http://127.0.0.1:9"])
def test_local_edge_refuses_an_origin_of_the_wrong_type(
    private_tmp: Path, key_group: dict[str, Any], origin: Any
) -> None:
    with pytest.raises(InvalidInputError, match="origin"):
        LocalEdge(origin, key_group=key_group, tls=True)
    assert list(private_tmp.iterdir()) == []


def test_local_edge_refuses_a_bucket_object_as_origin(key_group: dict[str, Any]) -> None:
    bucket = LocalBucket(tls=False)
    with pytest.raises(InvalidInputError, match="origin_url"):
        LocalEdge(bucket, key_group=key_group)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "origin", ["http://[::1", "http://127.0.0.1:notaport", "http://127.0.0.1:99999", "ftp://x"]
)
def test_local_edge_start_refuses_a_malformed_origin_url(
    key_group: dict[str, Any], origin: str
) -> None:
    edge = LocalEdge(origin, key_group=key_group)
    with pytest.raises(InvalidInputError, match="origin"):
        edge.start()
    assert not edge.running


# --- LocalContainer / LocalBucket ------------------------------------------------------


ORIGIN_BAD_ARGUMENTS: list[tuple[dict[str, Any], str]] = [
    ({"max_object_size": "5"}, "max_object_size"),
    ({"max_object_size": True}, "max_object_size"),
    ({"credentials": [("AKID", "secret")]}, "credentials"),
    ({"credentials": {"AKID": 5}}, "AKID"),
    ({"credentials": {5: "secret"}}, "credentials"),
    ({"credentials": {"": "secret"}}, "credentials"),
    ({"credentials": {"AKID": ""}}, "AKID"),
    ({"port": "80"}, "port"),
    ({"clock": 5}, "clock"),
    ({"ca": "ca.pem"}, "ca"),
    ({"storage_dir": 5}, "storage_dir"),
]


@pytest.mark.parametrize("origin", [LocalContainer, LocalBucket])
@pytest.mark.parametrize(("kwargs", "match"), ORIGIN_BAD_ARGUMENTS)
def test_local_origins_refuse_bad_arguments(
    private_tmp: Path, origin: type[Any], kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        origin(**kwargs)
    assert list(private_tmp.iterdir()) == []


def test_local_container_refuses_a_bad_streaming_size(private_tmp: Path) -> None:
    with pytest.raises(InvalidInputError, match="max_streaming_object_size"):
        LocalContainer(max_streaming_object_size="5")  # type: ignore[arg-type]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"secret_key": 5}, "secret_key"),
        ({"secret_key": ""}, "secret_key"),
        ({"secret_key": "s", "principal": 5}, "principal"),
        ({"secret_key": "s", "source_arn": 5}, "source_arn"),
        ({"secret_key": "s", "source_account": 5}, "source_account"),
    ],
)
def test_local_credential_refuses_bad_fields(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LocalCredential(**kwargs)


def test_bucket_add_credential_refuses_a_bad_secret() -> None:
    bucket = LocalBucket(tls=False)
    with pytest.raises(InvalidInputError, match="credential"):
        bucket.add_credential("AKIDNEW", 5)  # type: ignore[arg-type]
    assert "AKIDNEW" not in bucket.credentials


@pytest.mark.parametrize("data", [None, 5, "abc", [1, 2]])
def test_write_refuses_data_that_is_not_bytes(data: Any) -> None:
    container = LocalContainer(tls=False)
    bucket = LocalBucket(tls=False)
    with pytest.raises(InvalidInputError, match="data"):
        container.write("live/a.ts", data)
    with pytest.raises(InvalidInputError, match="data"):
        bucket.write("live/a.ts", data)
    assert container.paths() == bucket.paths() == []


def test_write_refuses_a_bad_cache_control_or_content_type() -> None:
    container = LocalContainer(tls=False)
    bucket = LocalBucket(tls=False)
    for origin in (container, bucket):
        with pytest.raises(InvalidInputError, match="cache_control"):
            origin.write("live/a.ts", b"x", cache_control=5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="cache_control"):
            origin.write("live/a.ts", b"x", cache_control="a\r\nX-Injected: 1")
    with pytest.raises(InvalidInputError, match="content_type"):
        bucket.write("live/a.ts", b"x", content_type=5)  # type: ignore[arg-type]
    assert container.paths() == bucket.paths() == []


def test_write_still_takes_any_bytes_like_object() -> None:
    container = LocalContainer(tls=False)
    bucket = LocalBucket(tls=False)
    for origin in (container, bucket):
        origin.write("live/a.ts", bytearray(b"ab"))
        origin.write("live/b.ts", memoryview(b"cd"))
        assert (origin.read("live/a.ts"), origin.read("live/b.ts")) == (b"ab", b"cd")
        assert origin.describe("live/b.ts").size == 2


def _good_meta() -> dict[str, Any]:
    return {
        "path": "live/a.ts", "size": 1, "content_type": "video/mp2t", "cache_control": None,
        "etag": "e", "content_sha256": "0" * 64, "last_modified": 1_700_000_000.0,
    }


CORRUPT_ENTRIES: dict[str, bytes] = {
    "int": b"5\n",
    "list": b"[1, 2]\n",
    "huge-date": json.dumps(_good_meta() | {"last_modified": 1e300}).encode() + b"\n",
    "nan-date": json.dumps(_good_meta() | {"last_modified": float("nan")}).encode() + b"\n",
    "headers-int": json.dumps(_good_meta() | {"headers": 5}).encode() + b"\n",
    "cache-int": json.dumps(_good_meta() | {"cache_control": 5}).encode() + b"\n",
    "not-json": b"\xff\xfe\n",
    "missing-key": json.dumps({"path": "live/a.ts"}).encode() + b"\n",
}


@pytest.mark.parametrize("content", list(CORRUPT_ENTRIES.values()), ids=list(CORRUPT_ENTRIES))
@pytest.mark.parametrize("origin_class", [LocalContainer, LocalBucket])
def test_a_corrupt_store_entry_is_a_typed_error_naming_the_file(
    tmp_path: Path, content: bytes, origin_class: type[LocalContainer | LocalBucket]
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    entry = store / "0123abcd.obj"
    entry.write_bytes(content + b"payload")
    with pytest.raises(LocalStackError, match=r"0123abcd\.obj"):
        origin_class(storage_dir=store, tls=False)


def test_a_good_store_entry_still_loads(tmp_path: Path) -> None:
    with LocalContainer(storage_dir=tmp_path, tls=False) as container:
        container.write("live/a.ts", b"abc", cache_control="max-age=1")
    again = LocalContainer(storage_dir=tmp_path, tls=False)
    assert again.read("live/a.ts") == b"abc"
    assert again.describe("live/a.ts").cache_control == "max-age=1"


@pytest.mark.parametrize("document", [5, None, [1], _good_meta() | {"size": "big"}])
def test_stored_object_from_json_refuses_a_bad_document(document: Any) -> None:
    with pytest.raises(InvalidInputError, match="metadata"):
        StoredObject.from_json(document)


# --- OriginAccessControl ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("GET", "notaurl", []), "url"),
        (("GET", "ftp://host/a", []), "url"),
        (("GET", None, []), "url"),
        (("GET", "https://h/a", None), "viewer_headers"),
        (("GET", "https://h/a", [("x-amz-content-sha256",)]), "viewer_headers"),
        (("GET", "https://h/a", [(5, "v")]), "viewer_headers"),
        (("GET", "https://h/a", "x-amz-content-sha256"), "viewer_headers"),
        ((5, "https://h/a", []), "method"),
        (("", "https://h/a", []), "method"),
    ],
)
def test_oac_signed_headers_refuses_bad_arguments(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        OriginAccessControl("AKIDOAC", "oac-secret-value").signed_headers(*args)


def test_oac_signed_headers_unchanged_for_valid_input() -> None:
    headers = OriginAccessControl("AKIDOAC", "oac-secret-value").signed_headers(
        "PUT", "https://127.0.0.1:1/b/a.ts", {"X-Amz-Content-SHA256": "a" * 64}.items()
    )
    assert headers["X-Amz-Content-SHA256"] == "a" * 64
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDOAC/")


# --- LocalStack ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"ingest_actions": 5}, "ingest_actions"),
        ({"ingest_actions": "mediastore:PutObject"}, "ingest_actions"),
        ({"ingest_actions": [5]}, "ingest_actions"),
        ({"key_pair": 5}, "key_pair"),
        ({"key_id": 5}, "key_id"),
        ({"secret": "MediaStore-Secret-xxxxxxxxxxxxxxxxxxxxxxxx"}, "secret"),
        ({"playback_secret": 5}, "playback_secret"),
        ({"clock": 5}, "clock"),
        ({"storage_dir": 5}, "storage_dir"),
        ({"container_name": 5}, "container"),
        ({"origin": "s3", "bucket_name": "Not_A_Bucket"}, "bucket"),
        ({"region": "mars"}, "region"),
    ],
)
def test_local_stack_refuses_bad_arguments_at_construction(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LocalStack(**kwargs)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.ingest_url(None),
        lambda s: s.playback_url(5),
        lambda s: s.sign_ingest_url(None),
        lambda s: s.sign_playback_url(b"live/a.ts"),
    ],
)
def test_local_stack_urls_refuse_a_path_that_is_not_a_str(
    mediastore_stack_session: LocalStack, call: Callable[[LocalStack], object]
) -> None:
    with pytest.raises(InvalidInputError, match="path"):
        call(mediastore_stack_session)
    assert mediastore_stack_session.ingest_url("/live/a.ts").endswith("/live/a.ts")


# --- DEBUG logging does not carry signed URL credentials -------------------------------


def test_request_log_lines_redact_signatures(
    caplog: pytest.LogCaptureFixture, pool: urllib3.PoolManager
) -> None:
    with LocalStack() as stack:
        url = stack.sign_ingest_url("live/a.ts")
        signature = url.split("Signature=")[1].split("&")[0]
        key_id = stack.key_id
        with caplog.at_level(logging.DEBUG, logger="mediastore_ingest"):
            assert pool.request("PUT", url, body=b"x").status == 200
    lines = [r.getMessage() for r in caplog.records if "PUT /live/a.ts" in r.getMessage()]
    assert lines, "the edge logs its request line at DEBUG"
    assert all(signature not in line for line in lines)
    assert any("Signature=<redacted>" in line for line in lines)
    assert any("Key-Pair-Id=" + key_id in line for line in lines)  # not a secret


# --- the rest of the public test surface -----------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda o: o.read([]), "path"),
        (lambda o: o.read(None), "path"),
        (lambda o: o.describe([]), "path"),
    ],
)
@pytest.mark.parametrize("origin_class", [LocalContainer, LocalBucket])
def test_read_and_describe_refuse_a_path_that_is_not_a_str(
    origin_class: type[LocalContainer | LocalBucket],
    call: Callable[[LocalContainer | LocalBucket], object],
    match: str,
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        call(origin_class(tls=False))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": None}, "path"),
        ({"path": "live/a.ts", "min_bytes": "1"}, "min_bytes"),
        ({"path": "live/a.ts", "timeout": "x"}, "timeout"),
        ({"path": "live/a.ts", "timeout": -1}, "timeout"),
    ],
)
def test_wait_for_streaming_upload_refuses_bad_arguments(
    kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LocalContainer(tls=False).wait_for_streaming_upload(**kwargs)


def test_fault_schedule_refuses_what_is_not_a_plan() -> None:
    with pytest.raises(InvalidInputError, match="FaultPlan"):
        FaultSchedule(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("origin_class", "path"), [(LocalContainer, "/live/a.ts"), (LocalBucket, "/live-origin/a.ts")]
)
def test_origin_log_lines_redact_presigned_credentials(
    caplog: pytest.LogCaptureFixture,
    pool: urllib3.PoolManager,
    origin_class: type[LocalContainer | LocalBucket],
    path: str,
) -> None:
    query = "X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeef0123&Signature=cafe4567"
    with origin_class(tls=False) as origin, caplog.at_level(
        logging.DEBUG, logger="mediastore_ingest"
    ):
        status = pool.request("GET", f"{origin.base_url}{path}?{query}").status
    assert status >= 400  # refused (unsigned, or presigned URLs unsupported): still logged
    lines = [r.getMessage() for r in caplog.records if f"GET {path}?" in r.getMessage()]
    assert lines, "the origin logs its request line at DEBUG"
    text = "\n".join(lines)
    assert "deadbeef0123" not in text
    assert "cafe4567" not in text
    assert "X-Amz-Signature=<redacted>" in text
    assert "X-Amz-Credential=AKIDEXAMPLE" in text  # an access key id is not a secret


def test_the_edge_request_log_repr_hides_the_signature(pool: urllib3.PoolManager) -> None:
    with LocalStack() as stack:
        url = stack.sign_ingest_url("live/a.ts")
        assert pool.request("PUT", url, body=b"a").status == 200
        logged = stack.ingest_edge.requests[-1]
    signature = url.split("Signature=")[1].split("&")[0]
    assert signature in logged.path  # the path itself is intact
    assert signature not in repr(logged)
    assert "Signature=<redacted>" in repr(logged)
