"""LocalContainer against real clients over real loopback sockets (TLS where it matters).

botocore's own ``mediastore-data`` client proves the wire format and SigV4; urllib3,
http.client and raw sockets drive anonymous, chunked, streaming and broken uploads.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidContentTypeError,
    InvalidInputError,
    InvalidPathError,
    ObjectNotFoundError,
    UnsupportedPolicyFeatureError,
)
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.testing import (
    DEFAULT_CREDENTIALS,
    LocalBucket,
    LocalCA,
    LocalContainer,
    LocalCredential,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = DEFAULT_CREDENTIALS[ACCESS_KEY]
REGION = "us-west-2"
ACCOUNT = "111122223333"


def data_client(
    container: LocalContainer, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY
) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "mediastore-data",
        endpoint_url=container.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        verify=container.ca_bundle if container.tls else False,
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.fixture
def client(container: LocalContainer) -> Iterator[Any]:
    c = data_client(container)
    yield c
    c.close()


def pool_for(container: LocalContainer) -> urllib3.PoolManager:
    return urllib3.PoolManager(ca_certs=container.ca_bundle, retries=False)


def ingest_policy(secret: IngestSecret, *, name: str = "live") -> str:
    return (
        ContainerPolicyBuilder(region=REGION, account_id=ACCOUNT, container=name)
        .allow_account_full_access()
        .allow_cloudfront_ingest(secret)
        .build()
        .to_json()
    )


def connect(container: LocalContainer) -> http.client.HTTPConnection:
    if container.tls:
        assert container.ca is not None
        return http.client.HTTPSConnection(
            "127.0.0.1", container.port, context=container.ca.client_context(), timeout=10
        )
    return http.client.HTTPConnection("127.0.0.1", container.port, timeout=10)


def raw_socket(container: LocalContainer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", container.port), timeout=10)
    if container.tls:
        assert container.ca is not None
        return container.ca.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
    return sock


def error_code(response: urllib3.BaseHTTPResponse) -> str | None:
    return response.headers.get("x-amzn-ErrorType")


# Anyone may do anything over HTTPS: for anonymous protocol tests.
OPEN_OVER_HTTPS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "OpenOverHttps",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "mediastore:*",
            "Resource": f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live/*",
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        }
    ],
}


@pytest.fixture
def open_container(ca: LocalCA) -> Iterator[LocalContainer]:
    """Anyone may write over HTTPS (for anonymous protocol tests), tiny size limits."""
    with LocalContainer(
        ca=ca, policy=OPEN_OVER_HTTPS, max_object_size=1000, max_streaming_object_size=500
    ) as c:
        yield c


# --- botocore's own client ----------------------------------------------------------------


def test_botocore_round_trip(container: LocalContainer, client: Any) -> None:
    body = bytes(range(256)) * 4
    put = client.put_object(
        Path="live/seg1.ts", Body=body, ContentType="video/MP2T", CacheControl="max-age=2"
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["StorageClass"] == "TEMPORAL"
    assert put["ContentSHA256"] == hashlib.sha256(body).hexdigest()
    assert container.read("live/seg1.ts") == body

    got = client.get_object(Path="live/seg1.ts")
    assert got["Body"].read() == body
    assert got["ContentType"] == "video/MP2T"
    assert got["CacheControl"] == "max-age=2"
    assert got["ETag"] == put["ETag"]

    part = client.get_object(Path="live/seg1.ts", Range="bytes=10-19")
    assert part["StatusCode"] == 206
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["Body"].read() == body[10:20]

    head = client.describe_object(Path="live/seg1.ts")
    assert head["ContentLength"] == len(body)
    assert head["ContentType"] == "video/MP2T"
    assert head["ETag"] == put["ETag"]
    assert head["CacheControl"] == "max-age=2"
    assert head["LastModified"].tzinfo is not None

    client.delete_object(Path="live/seg1.ts")
    assert container.paths() == []
    with pytest.raises(ClientError) as info:
        client.describe_object(Path="live/seg1.ts")
    assert info.value.response["Error"]["Code"] == "ObjectNotFoundException"
    with pytest.raises(ClientError) as info:
        client.get_object(Path="live/seg1.ts")
    assert info.value.response["Error"]["Code"] == "ObjectNotFoundException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as info:
        client.delete_object(Path="live/seg1.ts")
    assert info.value.response["Error"]["Code"] == "ObjectNotFoundException"


def test_botocore_list_items_folders_and_pagination(
    container: LocalContainer, client: Any
) -> None:
    names = [f"seg{i:02d}.ts" for i in range(7)]
    for name in names:
        client.put_object(Path=f"live/hd/{name}", Body=name.encode(), ContentType="video/MP2T")
    client.put_object(Path="live/hd/sub/deep.ts", Body=b"x")
    client.put_object(Path="live/index.m3u8", Body=b"#EXTM3U", ContentType="application/x-mpegURL")

    root = client.list_items()
    assert root["Items"] == [{"Name": "live", "Type": "FOLDER"}]
    live = client.list_items(Path="live")
    assert [(i["Name"], i["Type"]) for i in live["Items"]] == [
        ("hd", "FOLDER"),
        ("index.m3u8", "OBJECT"),
    ]
    manifest = live["Items"][1]
    assert manifest["ContentLength"] == 7
    assert manifest["ContentType"] == "application/x-mpegURL"
    assert manifest["ETag"] == client.describe_object(Path="live/index.m3u8")["ETag"]

    first = client.list_items(Path="live/hd/", MaxResults=3)
    assert len(first["Items"]) == 3
    assert "NextToken" in first
    seen: list[str] = []
    paginator = client.get_paginator("list_items")
    for page in paginator.paginate(Path="live/hd", PaginationConfig={"PageSize": 3}):
        assert len(page["Items"]) <= 3
        seen += [item["Name"] for item in page["Items"]]
    assert seen == sorted([*names, "sub"])
    assert client.list_items(Path="nothing/here")["Items"] == []
    listing = [r for r in container.requests if r.method == "GET" and r.path.startswith("/?")]
    assert len(listing) >= 3


def test_wrong_secret_and_unknown_key_are_refused(container: LocalContainer) -> None:
    bad = data_client(container, secret_key="not-the-secret")
    stranger = data_client(container, access_key="AKIDSTRANGER")
    try:
        with pytest.raises(ClientError) as info:
            bad.put_object(Path="live/x.ts", Body=b"data")
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        with pytest.raises(ClientError) as info:
            bad.list_items()
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        with pytest.raises(ClientError) as info:
            stranger.get_object(Path="live/x.ts")
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    finally:
        bad.close()
        stranger.close()
    assert container.paths() == []


def test_signature_outside_clock_skew_is_refused(ca: LocalCA) -> None:
    far_future = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
    with LocalContainer(ca=ca, clock=lambda: far_future) as c:
        cl = data_client(c)
        try:
            with pytest.raises(ClientError) as info:
                cl.put_object(Path="live/x.ts", Body=b"data")
        finally:
            cl.close()
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
        assert "expired" in info.value.response["Error"]["Message"]
        assert c.paths() == []


def test_tampered_signed_request_is_refused(container: LocalContainer) -> None:
    # Sign a PUT for one path with botocore, send it for another path.
    url = f"{container.endpoint}/live/a.ts"
    request = AWSRequest(method="PUT", url=url, data=b"abc")
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "mediastore", REGION).add_auth(request)
    headers = dict(request.headers.items())
    http_pool = pool_for(container)
    ok = http_pool.request("PUT", url, body=b"abc", headers=headers)
    assert ok.status == 200
    moved = http_pool.request("PUT", url.replace("a.ts", "b.ts"), body=b"abc", headers=headers)
    assert moved.status == 403
    assert error_code(moved) == "InvalidSignatureException"
    assert container.paths() == ["live/a.ts"]


def test_signed_payload_hash_is_checked(container: LocalContainer) -> None:
    url = f"{container.endpoint}/live/hashed.ts"
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "mediastore", REGION)
    http_pool = pool_for(container)

    # No x-amz-content-sha256 header: the signature covers the body's hash.
    plain = AWSRequest(method="PUT", url=url, data=b"payload")
    signer.add_auth(plain)
    assert "X-Amz-Content-SHA256" not in plain.headers
    headers = dict(plain.headers.items())
    assert http_pool.request("PUT", url, body=b"payload", headers=headers).status == 200
    swapped = http_pool.request("PUT", url, body=b"PAYLOAD", headers=headers)
    assert swapped.status == 403
    assert container.read("live/hashed.ts") == b"payload"

    # A signed hex hash that does not match the body.
    lying = AWSRequest(method="PUT", url=url, data=b"other")
    lying.headers["X-Amz-Content-SHA256"] = hashlib.sha256(b"payload").hexdigest()
    signer.add_auth(lying)
    response = http_pool.request("PUT", url, body=b"other", headers=dict(lying.headers.items()))
    assert response.status == 400
    assert error_code(response) == "XAmzContentSHA256Mismatch"
    assert container.read("live/hashed.ts") == b"payload"


# --- policy enforcement ----------------------------------------------------------------------


def test_anonymous_put_needs_the_secret_user_agent(ca: LocalCA) -> None:
    secret = IngestSecret.generate()
    with LocalContainer(ca=ca, policy=ingest_policy(secret)) as c:
        http_pool = pool_for(c)
        url = f"{c.endpoint}/live/seg1.ts"
        denied = http_pool.request("PUT", url, body=b"segment", headers={"User-Agent": "ffmpeg"})
        assert denied.status == 403
        assert error_code(denied) == "AccessDeniedException"
        assert json.loads(denied.data)["__type"] == "AccessDeniedException"
        assert c.paths() == []

        wrong = IngestSecret.generate().user_agent
        assert http_pool.request("PUT", url, body=b"x", headers={"User-Agent": wrong}).status == 403

        allowed = http_pool.request(
            "PUT", url, body=b"segment", headers={"User-Agent": secret.user_agent}
        )
        assert allowed.status == 200
        assert c.read("live/seg1.ts") == b"segment"
        seen = [r.user_agent for r in c.requests if r.method == "PUT"]
        assert seen == ["ffmpeg", wrong, secret.user_agent]
        assert {r.peer for r in c.requests} == {"127.0.0.1"}
        assert all(r.tls for r in c.requests)
        assert c.put_count("live/seg1.ts") == 1
        assert secret.value not in repr(c.requests)

        # The ingest statement grants PutObject only: anonymous reads are refused.
        read = http_pool.request("GET", url, headers={"User-Agent": secret.user_agent})
        assert read.status == 403


def test_plain_http_refuses_writes_when_policy_requires_secure_transport(tmp_path: Path) -> None:
    secret = IngestSecret.generate()
    with LocalContainer(tls=False, policy=ingest_policy(secret)) as c:
        assert c.endpoint.startswith("http://")
        assert c.ca_bundle is None
        http_pool = urllib3.PoolManager(retries=False)
        url = f"{c.endpoint}/live/seg1.ts"
        response = http_pool.request(
            "PUT", url, body=b"x", headers={"User-Agent": secret.user_agent}
        )
        assert response.status == 403
        assert error_code(response) == "AccessDeniedException"
        # The signed account principal is refused too (default statement needs HTTPS).
        cl = data_client(c)
        try:
            with pytest.raises(ClientError) as info:
                cl.put_object(Path="live/seg1.ts", Body=b"x")
        finally:
            cl.close()
        assert info.value.response["Error"]["Code"] == "AccessDeniedException"
        assert c.paths() == []
        assert [r.tls for r in c.requests] == [False, False]

    # Control: the same request is accepted over HTTP when no statement asks for TLS.
    insecure = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "mediastore:PutObject",
                "Resource": f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live/*",
            }
        ],
    }
    with LocalContainer(tls=False, policy=insecure, storage_dir=tmp_path) as c:
        response = urllib3.PoolManager(retries=False).request(
            "PUT", f"{c.endpoint}/live/seg1.ts", body=b"x"
        )
        assert response.status == 200
        assert c.read("live/seg1.ts") == b"x"


def test_default_policy_refuses_anonymous_and_allows_account(
    container: LocalContainer, client: Any
) -> None:
    http_pool = pool_for(container)
    assert http_pool.request("PUT", f"{container.endpoint}/live/a.ts", body=b"x").status == 403
    assert http_pool.request("GET", f"{container.endpoint}/?Path=live").status == 403
    client.put_object(Path="live/a.ts", Body=b"x")
    assert http_pool.request("GET", f"{container.endpoint}/live/a.ts").status == 403
    assert client.get_object(Path="live/a.ts")["Body"].read() == b"x"


def test_credential_principal_is_what_the_policy_sees(ca: LocalCA) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/encoder"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": role},
                "Action": "mediastore:PutObject",
                "Resource": f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live/*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    credentials = {
        "AKIDENCODER": LocalCredential("encoder-secret", principal=role),
        "AKIDOTHER": "other-secret",
    }
    with LocalContainer(ca=ca, policy=policy, credentials=credentials) as c:
        encoder = data_client(c, access_key="AKIDENCODER", secret_key="encoder-secret")
        other = data_client(c, access_key="AKIDOTHER", secret_key="other-secret")
        try:
            encoder.put_object(Path="live/a.ts", Body=b"x")
            with pytest.raises(ClientError) as info:
                other.put_object(Path="live/b.ts", Body=b"x")
            assert info.value.response["Error"]["Code"] == "AccessDeniedException"
        finally:
            encoder.close()
            other.close()
        assert c.paths() == ["live/a.ts"]
        assert "encoder-secret" not in repr(c.credentials)


# --- request bodies -----------------------------------------------------------------------


def test_chunked_put_with_http_client(open_container: LocalContainer) -> None:
    conn = connect(open_container)
    try:
        conn.request(
            "PUT",
            "/live/chunked.ts",
            body=iter([b"one-", b"two-", b"three"]),
            headers={"Content-Type": "video/MP2T"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        document = json.loads(response.read())
        assert response.status == 200
        # keep-alive: a second request on the same connection
        conn.request("GET", "/live/chunked.ts")
        again = conn.getresponse()
        assert again.read() == b"one-two-three"
    finally:
        conn.close()
    assert open_container.read("live/chunked.ts") == b"one-two-three"
    assert document["ContentSHA256"] == open_container.describe("live/chunked.ts").content_sha256


def test_chunked_put_with_urllib3_generator(open_container: LocalContainer) -> None:
    def body() -> Iterator[bytes]:
        yield b"a" * 300
        yield b"b" * 300

    response = pool_for(open_container).request(
        "PUT", f"{open_container.endpoint}/live/gen.ts", body=body(), chunked=True
    )
    assert response.status == 200
    assert open_container.read("live/gen.ts") == b"a" * 300 + b"b" * 300
    put = open_container.wait_for_request(lambda r: r.method == "PUT")
    assert put.header("Transfer-Encoding") == "chunked"
    assert put.bytes_received == 600


def test_streaming_object_is_readable_while_uploading(open_container: LocalContainer) -> None:
    reader_saw_first = threading.Event()
    upload_result: dict[str, Any] = {}

    def upload() -> None:
        conn = connect(open_container)
        try:
            conn.putrequest("PUT", "/live/stream.ts")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.putheader("x-amz-upload-availability", "STREAMING")
            conn.putheader("Content-Type", "video/MP2T")
            conn.endheaders()
            conn.send(b"6\r\nfirst-\r\n")
            if not reader_saw_first.wait(10):
                upload_result["error"] = "the reader never saw the first chunk"
                return
            conn.send(b"6\r\nsecond\r\n0\r\n\r\n")
            response = conn.getresponse()
            upload_result["status"] = response.status
            response.read()
        finally:
            conn.close()

    writer = threading.Thread(target=upload)
    writer.start()
    try:
        assert open_container.wait_for_streaming_upload("live/stream.ts", min_bytes=6) == b"first-"
        # Not yet committed: DescribeObject does not see it, GetObject follows the stream.
        http_pool = pool_for(open_container)
        url = f"{open_container.endpoint}/live/stream.ts"
        assert http_pool.request("HEAD", url).status == 404
        response = http_pool.request("GET", url, preload_content=False)
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/MP2T"
        first = response.read1(6)  # type: ignore[attr-defined]
        assert first == b"first-"
        assert open_container.paths() == []
        reader_saw_first.set()
        rest = response.read()
        assert first + rest == b"first-second"
        response.release_conn()
    finally:
        reader_saw_first.set()
        writer.join(10)
    assert upload_result == {"status": 200}
    assert open_container.read("live/stream.ts") == b"first-second"
    assert open_container.describe("live/stream.ts").upload_availability == "STREAMING"


def test_reader_of_a_cut_off_stream_sees_it_broken(open_container: LocalContainer) -> None:
    uploader = raw_socket(open_container)
    try:
        uploader.sendall(
            b"PUT /live/cut.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"x-amz-upload-availability: STREAMING\r\n\r\n4\r\npart\r\n"
        )
        open_container.wait_for_streaming_upload("live/cut.ts", min_bytes=4)
        response = pool_for(open_container).request(
            "GET", f"{open_container.endpoint}/live/cut.ts", preload_content=False
        )
        assert response.status == 200
        assert response.read1(4) == b"part"  # type: ignore[attr-defined]
    finally:
        uploader.close()  # the encoder dies mid-segment
    with pytest.raises(urllib3.exceptions.ProtocolError):
        response.read()
    response.release_conn()
    open_container.wait_for_request(lambda r: r.method == "PUT" and r.path == "/live/cut.ts")
    assert open_container.paths() == []


def test_streaming_requires_chunked(open_container: LocalContainer) -> None:
    response = pool_for(open_container).request(
        "PUT",
        f"{open_container.endpoint}/live/s.ts",
        body=b"abc",
        headers={"x-amz-upload-availability": "STREAMING"},
    )
    assert response.status == 400
    assert error_code(response) == "ValidationException"
    assert open_container.paths() == []


def _send_raw(container: LocalContainer, head: bytes, body: bytes) -> None:
    sock = raw_socket(container)
    try:
        sock.sendall(head + body)
    finally:
        sock.close()


def test_cut_off_body_stores_nothing_and_keeps_the_acknowledged_object(
    open_container: LocalContainer,
) -> None:
    c = open_container
    url = f"{c.endpoint}/live/seg.ts"
    assert pool_for(c).request("PUT", url, body=b"version-1").status == 200

    # Content-Length promises 100 bytes, 10 arrive, then the connection closes.
    _send_raw(
        c, b"PUT /live/seg.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", b"0123456789"
    )
    # Chunked without the last chunk.
    _send_raw(
        c,
        b"PUT /live/seg.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"5\r\nhello\r\n",
    )
    # Streaming, cut inside a chunk.
    _send_raw(
        c,
        b"PUT /live/other.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"x-amz-upload-availability: STREAMING\r\n\r\n",
        b"a\r\nhel",
    )
    # Wait until the server has finished with all three broken uploads.
    c.wait_for_request(lambda r: r.path == "/live/other.ts")
    c.wait_for_request(
        lambda r: r.path == "/live/seg.ts" and r.header("Transfer-Encoding") == "chunked"
    )
    c.wait_for_request(lambda r: r.path == "/live/seg.ts" and r.header("Content-Length") == "100")
    assert c.read("live/seg.ts") == b"version-1"
    assert c.paths() == ["live/seg.ts"]
    assert all(
        r.status is None for r in c.requests if r.method == "PUT" and r.header("Host") == "x"
    )


@pytest.fixture
def hasty_container(ca: LocalCA) -> Iterator[LocalContainer]:
    """MediaStore cancels a PUT not fully uploaded within 30 s; here within 0.3 s."""
    with LocalContainer(ca=ca, policy=OPEN_OVER_HTTPS, upload_timeout=0.3) as c:
        yield c


@pytest.mark.parametrize("kind", ["stalled", "trickling", "streaming"])
def test_upload_not_finished_in_time_is_cancelled(
    hasty_container: LocalContainer, kind: str
) -> None:
    c = hasty_container
    sock = raw_socket(c)
    try:
        if kind == "streaming":
            sock.sendall(
                b"PUT /live/slow.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"x-amz-upload-availability: STREAMING\r\n\r\n4\r\npart\r\n"
            )
        else:
            sock.sendall(b"PUT /live/slow.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        sock.sendall(b"0123456789")
        if kind == "trickling":
            # A byte at a time, each within any idle timeout, the whole far too slow.
            try:
                for _ in range(40):
                    threading.Event().wait(0.05)
                    sock.sendall(b"x")
            except OSError:
                pass  # the container hung up: that is the point
        # The container cancels: it closes the connection without an answer (a
        # reset is the same hang-up when the client had sent more after it).
        try:
            answer = sock.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            answer = b""
        assert answer == b""
    finally:
        sock.close()
    record = c.wait_for_request(lambda r: r.path == "/live/slow.ts")
    assert record.status is None
    assert c.paths() == []


def test_upload_in_time_is_stored(ca: LocalCA) -> None:
    # The deadline is re-armed before every read of the body: a body of many pieces
    # that arrives in time is stored whole (5 s: far more than loopback needs).
    with LocalContainer(ca=ca, policy=OPEN_OVER_HTTPS, upload_timeout=5.0) as c:
        response = pool_for(c).request("PUT", f"{c.endpoint}/live/quick.ts", body=b"q" * 2_000_000)
        assert response.status == 200
        assert c.read("live/quick.ts") == b"q" * 2_000_000


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "30", True])
def test_upload_timeout_must_be_positive_seconds(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="upload_timeout"):
        LocalContainer(upload_timeout=bad)


def test_malformed_chunked_body_is_rejected(open_container: LocalContainer) -> None:
    sock = raw_socket(open_container)
    try:
        sock.sendall(
            b"PUT /live/bad.ts HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\nhello\r\n0\r\n\r\n"
        )
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 400
        assert response.getheader("Connection") == "close"
        assert response.getheader("x-amzn-ErrorType") == "ValidationException"
        response.read()
    finally:
        sock.close()
    assert open_container.paths() == []


def test_expect_100_continue(open_container: LocalContainer, container: LocalContainer) -> None:
    # Accepted: the 100 comes first, then the body is sent, then the final answer.
    sock = raw_socket(open_container)
    try:
        sock.sendall(
            b"PUT /live/cont.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"hello")
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 200
        response.read()
    finally:
        sock.close()
    assert open_container.read("live/cont.ts") == b"hello"

    # Refused before the body: no 100, a final 403, and the connection closes.
    sock = raw_socket(container)
    try:
        sock.sendall(
            b"PUT /live/cont.ts HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
        response.begin()
        assert response.status == 403
        assert response.getheader("Connection") == "close"
        response.read()
    finally:
        sock.close()
    assert container.paths() == []


# --- limits and validation ------------------------------------------------------------------


def test_size_limits(open_container: LocalContainer) -> None:
    c = open_container
    http_pool = pool_for(c)
    at_limit = http_pool.request("PUT", f"{c.endpoint}/live/max.ts", body=b"m" * 1000)
    assert at_limit.status == 200

    over = http_pool.request("PUT", f"{c.endpoint}/live/big.ts", body=b"b" * 1001)
    assert over.status == 413
    assert error_code(over) == "RequestEntityTooLargeException"

    chunked_over = http_pool.request(
        "PUT", f"{c.endpoint}/live/big.ts", body=iter([b"c" * 600, b"c" * 600]), chunked=True
    )
    assert chunked_over.status == 413

    streaming_over = http_pool.request(
        "PUT",
        f"{c.endpoint}/live/big.ts",
        body=iter([b"s" * 300, b"s" * 300]),
        chunked=True,
        headers={"x-amz-upload-availability": "STREAMING"},
    )
    assert streaming_over.status == 413
    streaming_ok = http_pool.request(
        "PUT",
        f"{c.endpoint}/live/small.ts",
        body=iter([b"s" * 250, b"s" * 250]),
        chunked=True,
        headers={"x-amz-upload-availability": "STREAMING"},
    )
    assert streaming_ok.status == 200
    assert c.paths() == ["live/max.ts", "live/small.ts"]


@pytest.mark.parametrize(
    "path",
    [
        "live//a.ts",
        "live/a b.ts",
        "live/../secret.ts",
        "live/./a.ts",
        "/".join(["d"] * 12),
        "a" * 901,
        "live/a%00.ts",
        "live/",
        "live/é.ts",
    ],
)
def test_invalid_paths_are_rejected(open_container: LocalContainer, path: str) -> None:
    from urllib.parse import quote

    conn = connect(open_container)  # http.client sends the target as given (no dot removal)
    try:
        conn.request("PUT", "/" + quote(path, safe="/%."), body=b"x")
        response = conn.getresponse()
        response.read()
    finally:
        conn.close()
    assert response.status == 400, path
    assert response.getheader("x-amzn-ErrorType") == "ValidationException"
    assert open_container.paths() == []


def test_valid_path_edge_cases(open_container: LocalContainer) -> None:
    deepest = "/".join(["d"] * 10) + "/f~_-.ts"
    url = f"{open_container.endpoint}/{deepest}"
    assert pool_for(open_container).request("PUT", url, body=b"x").status == 200
    assert open_container.paths() == [deepest]


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"Content-Type": "video/MP2T"}, True),
        ({"Content-Type": "application/vnd.apple.mpegurl"}, True),
        ({"Content-Type": "application/dash+xml"}, True),
        ({"Content-Type": "text/plain; charset=utf-8"}, False),
        ({"Content-Type": "a" * 256}, False),
        ({"x-amz-storage-class": "TEMPORAL"}, True),
        ({"x-amz-storage-class": "GLACIER"}, False),
        ({"x-amz-upload-availability": "SOMETIMES"}, False),
    ],
)
def test_header_validation(
    open_container: LocalContainer, headers: dict[str, str], ok: bool
) -> None:
    response = pool_for(open_container).request(
        "PUT", f"{open_container.endpoint}/live/h.ts", body=b"x", headers=headers
    )
    assert response.status == (200 if ok else 400)
    assert open_container.paths() == (["live/h.ts"] if ok else [])


def test_ranges(open_container: LocalContainer) -> None:
    c = open_container
    c.write("live/r.bin", b"0123456789", content_type="application/octet-stream")
    http_pool = pool_for(c)
    url = f"{c.endpoint}/live/r.bin"

    def get(value: str) -> urllib3.BaseHTTPResponse:
        return http_pool.request("GET", url, headers={"Range": value})

    suffix = get("bytes=-3")
    assert (suffix.status, suffix.data, suffix.headers["Content-Range"]) == (
        206,
        b"789",
        "bytes 7-9/10",
    )
    open_ended = get("bytes=4-")
    assert (open_ended.status, open_ended.data) == (206, b"456789")
    clipped = get("bytes=8-100")
    assert (clipped.status, clipped.data, clipped.headers["Content-Range"]) == (
        206,
        b"89",
        "bytes 8-9/10",
    )
    beyond = get("bytes=10-20")
    assert beyond.status == 416
    assert beyond.headers["Content-Range"] == "bytes */10"
    assert error_code(beyond) == "RequestedRangeNotSatisfiableException"
    ignored = get("bytes=0-1,4-5")
    assert (ignored.status, ignored.data) == (200, b"0123456789")


# --- storage and the test surface -------------------------------------------------------------


def test_storage_dir_survives_restart(ca: LocalCA, tmp_path: Path) -> None:
    with LocalContainer(ca=ca, storage_dir=tmp_path) as first:
        cl = data_client(first)
        try:
            put = cl.put_object(Path="live/a/seg.ts", Body=b"persisted", ContentType="video/MP2T")
            cl.put_object(Path="live/gone.ts", Body=b"x")
            cl.delete_object(Path="live/gone.ts")
        finally:
            cl.close()
    assert not list(tmp_path.glob("*.tmp"))
    with LocalContainer(ca=ca, storage_dir=tmp_path) as second:
        assert second.paths() == ["live/a/seg.ts"]
        assert second.read("live/a/seg.ts") == b"persisted"
        cl = data_client(second)
        try:
            head = cl.describe_object(Path="live/a/seg.ts")
            assert head["ETag"] == put["ETag"]
            assert head["ContentType"] == "video/MP2T"
            assert cl.get_object(Path="live/a/seg.ts")["Body"].read() == b"persisted"
        finally:
            cl.close()


def test_test_surface(container: LocalContainer) -> None:
    assert container.container_arn == f"arn:aws:mediastore:{REGION}:{ACCOUNT}:container/live"
    assert container.endpoint == f"https://127.0.0.1:{container.port}"
    assert Path(container.ca_bundle or "").read_bytes().startswith(b"-----BEGIN CERTIFICATE")
    with pytest.raises(ObjectNotFoundError) as info:
        container.read("live/none.ts")
    assert info.value.status == 404
    assert info.value.path == "live/none.ts"
    container.write("live/b.ts", b"b")
    container.write("live/a.ts", b"a")
    assert container.paths() == ["live/a.ts", "live/b.ts"]
    assert pool_for(container).request("GET", f"{container.endpoint}/live/a.ts").status == 403
    assert len(container.requests) == 1
    container.clear()
    assert container.paths() == []
    assert container.requests == []
    with pytest.raises(InvalidPathError):
        container.write("../x", b"")
    with pytest.raises(InvalidContentTypeError):
        container.write("live/x.ts", b"", content_type="text/plain; charset=utf-8")


def test_bad_arguments_fail_at_construction() -> None:
    with pytest.raises(InvalidInputError):
        LocalContainer(host="0.0.0.0", tls=False)  # noqa: S104
    with pytest.raises(ContainerPolicyError):
        LocalContainer(tls=False, policy='{"Statement": "nope"}')
    with pytest.raises(UnsupportedPolicyFeatureError):
        LocalContainer(
            tls=False,
            policy={
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "mediastore:GetObject",
                        "Resource": "*",
                        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}},
                    }
                ],
            },
        )
    with pytest.raises(InvalidInputError):
        LocalContainer(name="bad name", tls=False)


def test_stop_closes_keep_alive_connections(ca: LocalCA) -> None:
    c = LocalContainer(ca=ca).start()
    conn = connect(c)
    conn.request("GET", "/live/a.ts")
    assert conn.getresponse().read()  # 403 JSON body; the connection stays open
    stopper = threading.Thread(target=c.stop)
    stopper.start()
    stopper.join(20)
    assert not stopper.is_alive()
    def reuse() -> None:
        conn.request("GET", "/live/a.ts")
        conn.getresponse()

    with pytest.raises((OSError, http.client.HTTPException, ssl.SSLError)):
        reuse()
    conn.close()
    c.close()


# --- write() and the store, for LocalContainer and LocalBucket alike ------------------------------


def test_write_still_takes_any_bytes_like_object() -> None:
    container = LocalContainer(tls=False)
    bucket = LocalBucket(tls=False)
    for origin in (container, bucket):
        origin.write("live/a.ts", bytearray(b"ab"))
        origin.write("live/b.ts", memoryview(b"cd"))
        assert (origin.read("live/a.ts"), origin.read("live/b.ts")) == (b"ab", b"cd")
        assert origin.describe("live/b.ts").size == 2


def test_a_good_store_entry_still_loads(tmp_path: Path) -> None:
    with LocalContainer(storage_dir=tmp_path, tls=False) as container:
        container.write("live/a.ts", b"abc", cache_control="max-age=1")
    again = LocalContainer(storage_dir=tmp_path, tls=False)
    assert again.read("live/a.ts") == b"abc"
    assert again.describe("live/a.ts").cache_control == "max-age=1"
