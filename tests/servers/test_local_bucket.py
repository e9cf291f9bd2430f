"""LocalBucket against botocore's own ``s3`` client and raw requests over real loopback TLS.

botocore proves the wire format (path-style addressing, XML, aws-chunked uploads with
trailing checksums, SigV4 for ``s3``); hand-signed urllib3 requests drive what a
well-behaved SDK never sends (a lying ``x-amz-content-sha256``, plain chunked PUTs,
bad checksums) and the bucket policy decisions for OAC principals.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import urllib3
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    ObjectNotFoundError,
    UnsupportedPolicyFeatureError,
)
from mediastore_ingest.origins.arn import distribution_arn
from mediastore_ingest.origins.s3 import BucketPolicyBuilder
from mediastore_ingest.testing import (
    DEFAULT_CREDENTIALS,
    LocalBucket,
    LocalCA,
    LocalCredential,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = DEFAULT_CREDENTIALS[ACCESS_KEY]
REGION = "us-west-2"
ACCOUNT = "111122223333"
BUCKET = "live-origin"
INGEST_ARN = distribution_arn(ACCOUNT, "EINGEST1")
PLAYBACK_ARN = distribution_arn(ACCOUNT, "EPLAYBACK1")
OTHER_ARN = distribution_arn("444455556666", "EOTHER1")
CF = "cloudfront.amazonaws.com"


@pytest.fixture
def bucket(ca: LocalCA) -> Iterator[LocalBucket]:
    with LocalBucket(BUCKET, ca=ca) as b:
        yield b


@pytest.fixture
def https_pool(ca: LocalCA) -> Iterator[urllib3.PoolManager]:
    """A pool that trusts the local CA and never retries."""
    with urllib3.PoolManager(retries=False, ca_certs=ca.ca_bundle) as manager:
        yield manager


def s3_client(
    bucket: LocalBucket,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
    *,
    region: str = REGION,
    unsigned: bool = False,
    signed_payload: bool = False,
) -> Any:
    """botocore's s3 client, path style; ``signed_payload``: hex x-amz-content-sha256
    instead of botocore's default aws-chunked body with a trailing checksum."""
    options: dict[str, Any] = {"signature_version": UNSIGNED} if unsigned else {}
    if signed_payload:
        options["request_checksum_calculation"] = "when_required"
    config = Config(
        s3={"addressing_style": "path", **({"payload_signing_enabled": True}
                                           if signed_payload else {})},
        retries={"max_attempts": 1},
        **options,
    )
    return botocore.session.get_session().create_client(
        "s3",
        endpoint_url=bucket.endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        verify=bucket.ca_bundle if bucket.ca_bundle else False,
        config=config,
    )


class _DeclaredHashSigner(S3SigV4Auth):  # type: ignore[misc]
    """SigV4 for S3 over whatever payload hash the test declares (true or not)."""

    def __init__(self, credentials: Credentials, payload_hash: str) -> None:
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request: AWSRequest) -> str:
        return self._payload_hash


def signed_headers(
    bucket: LocalBucket,
    method: str,
    key: str,
    *,
    payload_hash: str,
    headers: dict[str, str] | None = None,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET_KEY,
) -> dict[str, str]:
    """SigV4 headers for ``method`` on ``key`` signed over ``payload_hash`` (any value)."""
    request = AWSRequest(method=method, url=bucket.url(key), headers=dict(headers or {}))
    _DeclaredHashSigner(Credentials(access_key, secret), payload_hash).add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


def error_code(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'), text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


# --- botocore's own client ---------------------------------------------------------------


@pytest.mark.parametrize("signed_payload", [False, True], ids=["aws-chunked", "signed-payload"])
def test_botocore_round_trip(bucket: LocalBucket, signed_payload: bool) -> None:
    client = s3_client(bucket, signed_payload=signed_payload)
    data = hashlib.sha256(b"segment").digest() * 3000
    put = client.put_object(
        Bucket=BUCKET, Key="live/seg 1.ts", Body=data, ContentType="video/mp2t",
        CacheControl="max-age=2", Metadata={"rendition": "720p"},
    )
    assert put["ETag"] == f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'
    assert put["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    recorded = next(r for r in bucket.requests if r.method == "PUT")
    if not signed_payload:  # botocore's default over HTTPS: aws-chunked + trailer
        crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        assert put["ChecksumCRC32"] == crc
        assert recorded.header("Content-Encoding") == "aws-chunked"
        assert recorded.header("X-Amz-Content-SHA256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    else:
        assert recorded.header("X-Amz-Content-SHA256") == hashlib.sha256(data).hexdigest()
    assert bucket.read("live/seg 1.ts") == data
    assert bucket.describe("live/seg 1.ts").content_sha256 == hashlib.sha256(data).hexdigest()

    got = client.get_object(Bucket=BUCKET, Key="live/seg 1.ts")
    assert got["Body"].read() == data
    assert got["ContentType"] == "video/mp2t"
    assert got["CacheControl"] == "max-age=2"
    assert got["Metadata"] == {"rendition": "720p"}
    assert got["ETag"] == put["ETag"]
    part = client.get_object(Bucket=BUCKET, Key="live/seg 1.ts", Range="bytes=10-19")
    assert part["Body"].read() == data[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(data)}"
    head = client.head_object(Bucket=BUCKET, Key="live/seg 1.ts")
    assert head["ContentLength"] == len(data)
    client.head_bucket(Bucket=BUCKET)

    client.delete_object(Bucket=BUCKET, Key="live/seg 1.ts")
    client.delete_object(Bucket=BUCKET, Key="live/seg 1.ts")  # S3: 204 again
    assert bucket.keys() == []
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=BUCKET, Key="live/seg 1.ts")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        client.head_object(Bucket=BUCKET, Key="live/seg 1.ts")
    assert info.value.response["Error"]["Code"] == "404"


def test_botocore_over_plain_http_sends_header_checksums(ca: LocalCA) -> None:
    with LocalBucket(BUCKET, tls=False) as bucket:
        client = s3_client(bucket)
        client.put_object(Bucket=BUCKET, Key="a.ts", Body=b"hello")
        recorded = bucket.requests[-1]
        assert recorded.header("x-amz-checksum-crc32") is not None
        assert recorded.header("X-Amz-Content-SHA256") == hashlib.sha256(b"hello").hexdigest()
        assert client.get_object(Bucket=BUCKET, Key="a.ts")["Body"].read() == b"hello"


def test_list_objects_v2_pagination_prefix_delimiter(bucket: LocalBucket) -> None:
    client = s3_client(bucket)
    keys = [f"live/720p/seg{i}.ts" for i in range(5)] + [
        "live/index.m3u8", "live/1080p/seg0.ts", "other/x", "live/é ü+.ts",
    ]
    for key in keys:
        bucket.write(key, key.encode())
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="live/", PaginationConfig={"PageSize": 2}
    )
    listed = [obj["Key"] for page in pages for obj in page.get("Contents", [])]
    assert listed == sorted(k for k in keys if k.startswith("live/"))
    first = client.list_objects_v2(Bucket=BUCKET, Prefix="live/", MaxKeys=2)
    assert first["IsTruncated"] is True
    assert first["KeyCount"] == 2
    assert first["Contents"][0]["Size"] == len(first["Contents"][0]["Key"].encode())
    assert first["Contents"][0]["ETag"].startswith('"')

    folders = client.list_objects_v2(Bucket=BUCKET, Prefix="live/", Delimiter="/")
    assert [p["Prefix"] for p in folders["CommonPrefixes"]] == ["live/1080p/", "live/720p/"]
    assert [o["Key"] for o in folders["Contents"]] == ["live/index.m3u8", "live/é ü+.ts"]
    paged = client.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Delimiter="/", Prefix="live/", PaginationConfig={"PageSize": 1}
    )
    seen = [
        (o.get("Key") or o.get("Prefix"))
        for page in paged
        for o in page.get("CommonPrefixes", []) + page.get("Contents", [])
    ]
    assert sorted(seen) == ["live/1080p/", "live/720p/", "live/index.m3u8", "live/é ü+.ts"]
    after = client.list_objects_v2(Bucket=BUCKET, StartAfter="live/index.m3u8", Prefix="live/")
    assert [o["Key"] for o in after["Contents"]] == ["live/é ü+.ts"]
    assert client.list_objects_v2(Bucket=BUCKET, Prefix="nothing/")["KeyCount"] == 0
    with pytest.raises(ClientError) as info:
        client.list_objects_v2(Bucket=BUCKET, ContinuationToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidArgument"


def test_unknown_bucket_and_unimplemented_requests(
    bucket: LocalBucket, https_pool: urllib3.PoolManager
) -> None:
    client = s3_client(bucket)
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket="another-bucket", Key="x", Body=b"x")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"
    with pytest.raises(ClientError) as info:
        client.create_multipart_upload(Bucket=BUCKET, Key="big.ts")
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    presigned = client.generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "x"}
    )
    response = https_pool.request("GET", presigned)
    assert (response.status, error_code(response)) == (501, "NotImplemented")


# --- what S3 refuses ------------------------------------------------------------------------


def test_sha256_mismatch_stores_nothing(bucket: LocalBucket, https_pool: urllib3.PoolManager) -> None:
    bucket.write("live/seg.ts", b"original")
    body = b"the real body"
    headers = signed_headers(
        bucket, "PUT", "live/seg.ts", payload_hash=hashlib.sha256(b"another body").hexdigest()
    )
    response = https_pool.request("PUT", bucket.url("live/seg.ts"), body=body, headers=headers)
    assert response.status == 400
    text = response.data.decode()
    assert "<Code>XAmzContentSHA256Mismatch</Code>" in text
    assert f"<S3ComputedContentSHA256>{hashlib.sha256(body).hexdigest()}<" in text
    assert bucket.read("live/seg.ts") == b"original"
    assert bucket.put_count("live/seg.ts") == 0
    # The same request with the true hash goes through: the signature was not the issue.
    headers = signed_headers(
        bucket, "PUT", "live/seg.ts", payload_hash=hashlib.sha256(body).hexdigest()
    )
    response = https_pool.request("PUT", bucket.url("live/seg.ts"), body=body, headers=headers)
    assert response.status == 200
    assert response.headers["ETag"] == f'"{hashlib.md5(body, usedforsecurity=False).hexdigest()}"'
    assert bucket.read("live/seg.ts") == body
    assert bucket.put_count("live/seg.ts") == 1


def test_signed_request_needs_x_amz_content_sha256(
    bucket: LocalBucket, https_pool: urllib3.PoolManager
) -> None:
    request = AWSRequest(method="GET", url=bucket.url("x"))
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    del request.headers["X-Amz-Content-SHA256"]
    response = https_pool.request("GET", bucket.url("x"), headers=dict(request.headers.items()))
    assert (response.status, error_code(response)) == (400, "InvalidRequest")
    headers = signed_headers(bucket, "PUT", "x", payload_hash="not-a-hash")
    response = https_pool.request("PUT", bucket.url("x"), body=b"x", headers=headers)
    assert (response.status, error_code(response)) == (400, "InvalidArgument")


def test_chunked_put_without_a_length_is_refused(
    bucket: LocalBucket, https_pool: urllib3.PoolManager
) -> None:
    headers = signed_headers(bucket, "PUT", "live/stream.ts", payload_hash="UNSIGNED-PAYLOAD")
    response = https_pool.request(
        "PUT", bucket.url("live/stream.ts"), body=iter([b"a" * 100, b"b" * 100]),
        headers=headers, chunked=True,
    )
    assert (response.status, error_code(response)) == (411, "MissingContentLength")
    assert bucket.keys() == []
    # Unsigned payload with a length is fine.
    response = https_pool.request("PUT", bucket.url("live/stream.ts"), body=b"ab", headers=headers)
    assert response.status == 200


def _aws_chunked(data: bytes, trailer: str) -> bytes:
    return b"%x\r\n%s\r\n0\r\n%s\r\n\r\n" % (len(data), data, trailer.encode())


@pytest.mark.parametrize(
    ("trailer", "status", "code"),
    [
        ("x-amz-checksum-crc32:AAAAAA==", 400, "BadDigest"),
        ("x-amz-checksum-sha256:" + base64.b64encode(b"\0" * 32).decode(), 400, "BadDigest"),
        ("x-amz-other:1", 400, "MalformedTrailerError"),
        (
            "x-amz-checksum-crc32:"
            + base64.b64encode(zlib.crc32(b"payload").to_bytes(4, "big")).decode(),
            200,
            None,
        ),
    ],
)
def test_aws_chunked_trailing_checksum_is_verified(
    bucket: LocalBucket, https_pool: urllib3.PoolManager, trailer: str, status: int, code: str | None
) -> None:
    name = trailer.split(":", 1)[0]
    declared = "x-amz-checksum-crc32" if name == "x-amz-other" else name
    body = _aws_chunked(b"payload", trailer)
    headers = signed_headers(
        bucket, "PUT", "t.ts", payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        headers={"Content-Encoding": "aws-chunked", "X-Amz-Trailer": declared,
                 "X-Amz-Decoded-Content-Length": "7"},
    )
    response = https_pool.request("PUT", bucket.url("t.ts"), body=body, headers=headers)
    assert response.status == status
    if code is None:
        assert bucket.read("t.ts") == b"payload"
    else:
        assert error_code(response) == code
        assert bucket.keys() == []


def test_aws_chunked_length_and_framing_are_checked(
    bucket: LocalBucket, https_pool: urllib3.PoolManager
) -> None:
    def put(body: bytes, decoded: str) -> urllib3.BaseHTTPResponse:
        headers = signed_headers(
            bucket, "PUT", "f.ts", payload_hash="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            headers={"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": decoded},
        )
        return https_pool.request("PUT", bucket.url("f.ts"), body=body, headers=headers)

    assert error_code(put(b"5\r\nhello\r\n0\r\n\r\n", "9")) == "IncompleteBody"
    assert error_code(put(b"5\r\nhello\r\n0\r\n\r\n", "3")) == "IncompleteBody"
    assert error_code(put(b"zz\r\nhello\r\n0\r\n\r\n", "5")) == "IncompleteBody"
    assert error_code(put(b"5\r\nhello\r\n", "5")) == "IncompleteBody"
    assert bucket.keys() == []
    assert put(b"2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n", "5").status == 200
    assert bucket.read("f.ts") == b"hello"
    signed = signed_headers(
        bucket, "PUT", "s.ts", payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        headers={"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "1"},
    )
    response = https_pool.request("PUT", bucket.url("s.ts"), body=b"1\r\nx\r\n0\r\n\r\n", headers=signed)
    assert (response.status, error_code(response)) == (501, "NotImplemented")


def test_content_md5_and_size_limit(ca: LocalCA, https_pool: urllib3.PoolManager) -> None:
    with LocalBucket(BUCKET, ca=ca, max_object_size=10) as bucket:
        client = s3_client(bucket, signed_payload=True)
        with pytest.raises(ClientError) as info:
            client.put_object(Bucket=BUCKET, Key="big", Body=b"x" * 11)
        assert info.value.response["Error"]["Code"] == "EntityTooLarge"
        md5 = base64.b64encode(hashlib.md5(b"other", usedforsecurity=False).digest()).decode()
        headers = signed_headers(
            bucket, "PUT", "m", payload_hash=hashlib.sha256(b"data").hexdigest(),
            headers={"Content-MD5": md5},
        )
        response = https_pool.request("PUT", bucket.url("m"), body=b"data", headers=headers)
        assert (response.status, error_code(response)) == (400, "BadDigest")
        with pytest.raises(ClientError) as info:
            client.put_object(Bucket=BUCKET, Key="m", Body=b"x", StorageClass="TEMPORAL")
        assert info.value.response["Error"]["Code"] == "InvalidStorageClass"
        assert bucket.keys() == []


def test_range_not_satisfiable(bucket: LocalBucket) -> None:
    bucket.write("r", b"0123456789")
    client = s3_client(bucket)
    assert client.get_object(Bucket=BUCKET, Key="r", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=BUCKET, Key="r", Range="bytes=20-")
    assert info.value.response["Error"]["Code"] == "InvalidRange"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_signature_failures(ca: LocalCA) -> None:
    skewed = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    with LocalBucket(BUCKET, ca=ca) as bucket, LocalBucket(
        BUCKET, ca=ca, clock=lambda: skewed
    ) as late:
        cases = [
            (s3_client(bucket, secret="wrong"), "SignatureDoesNotMatch"),
            (s3_client(bucket, access_key="AKIDUNKNOWN"), "InvalidAccessKeyId"),
            (s3_client(bucket, region="eu-west-1"), "AuthorizationHeaderMalformed"),
            (s3_client(late), "RequestTimeTooSkewed"),
        ]
        for client, code in cases:
            with pytest.raises(ClientError) as info:
                client.put_object(Bucket=BUCKET, Key="x", Body=b"x")
            assert info.value.response["Error"]["Code"] == code
        assert bucket.keys() == late.keys() == []


# --- the bucket policy -------------------------------------------------------------------


@pytest.fixture
def oac_bucket(ca: LocalCA) -> Iterator[LocalBucket]:
    policy = (
        BucketPolicyBuilder(bucket=BUCKET, account_id=ACCOUNT)
        .allow_cloudfront_ingest(INGEST_ARN, actions=("s3:PutObject", "s3:DeleteObject"))
        .allow_cloudfront_read(PLAYBACK_ARN)
        .build()
    )
    credentials: dict[str, str | LocalCredential] = {
        "AKIAINGEST": LocalCredential("ingest-secret", principal=CF, source_arn=INGEST_ARN,
                                      source_account=ACCOUNT),
        "AKIAPLAYBACK": LocalCredential("playback-secret", principal=CF,
                                        source_arn=PLAYBACK_ARN, source_account=ACCOUNT),
        "AKIAOTHER": LocalCredential("other-secret", principal=CF, source_arn=OTHER_ARN,
                                     source_account="444455556666"),
        **DEFAULT_CREDENTIALS,
    }
    with LocalBucket(BUCKET, ca=ca, policy=policy, credentials=credentials) as bucket:
        yield bucket


def _code(call: Any, **kwargs: Any) -> str:
    try:
        call(Bucket=BUCKET, **kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "OK"


def test_policy_ingest_writes_playback_reads_others_refused(oac_bucket: LocalBucket) -> None:
    ingest = s3_client(oac_bucket, "AKIAINGEST", "ingest-secret")
    playback = s3_client(oac_bucket, "AKIAPLAYBACK", "playback-secret")
    other = s3_client(oac_bucket, "AKIAOTHER", "other-secret")
    anonymous = s3_client(oac_bucket, unsigned=True)

    assert _code(ingest.put_object, Key="live/a.ts", Body=b"a") == "OK"
    assert _code(ingest.get_object, Key="live/a.ts") == "AccessDenied"
    assert _code(ingest.list_objects_v2) == "AccessDenied"
    assert _code(playback.get_object, Key="live/a.ts") == "OK"
    assert _code(playback.head_object, Key="live/a.ts") == "OK"
    assert _code(playback.put_object, Key="live/b.ts", Body=b"b") == "AccessDenied"
    assert _code(playback.delete_object, Key="live/a.ts") == "AccessDenied"
    for client in (other, anonymous):
        assert _code(client.put_object, Key="live/c.ts", Body=b"c") == "AccessDenied"
        assert _code(client.get_object, Key="live/a.ts") == "AccessDenied"
        assert _code(client.delete_object, Key="live/a.ts") == "AccessDenied"
    assert oac_bucket.keys() == ["live/a.ts"]
    # Without s3:ListBucket a missing key is AccessDenied, not NoSuchKey (as S3 does).
    assert _code(playback.get_object, Key="live/missing.ts") == "AccessDenied"
    # The bucket owner's account keeps full access (its IAM side), 404 included.
    owner = s3_client(oac_bucket)
    assert _code(owner.get_object, Key="live/missing.ts") == "NoSuchKey"
    assert _code(owner.list_objects_v2) == "OK"
    assert _code(ingest.delete_object, Key="live/a.ts") == "OK"
    assert oac_bucket.keys() == []


def test_policy_explicit_deny_and_owner_access_off(ca: LocalCA) -> None:
    deny_http = BucketPolicyBuilder(bucket=BUCKET, account_id=ACCOUNT).deny_insecure_transport()
    with LocalBucket(BUCKET, tls=False, policy=deny_http.build()) as bucket:
        assert _code(s3_client(bucket).put_object, Key="x", Body=b"x") == "AccessDenied"
    with LocalBucket(BUCKET, ca=ca, owner_access=False) as bucket:
        assert _code(s3_client(bucket).put_object, Key="x", Body=b"x") == "AccessDenied"
        bucket.put_policy({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                           "Resource": f"arn:aws:s3:::{BUCKET}/public/*"}],
        })
        bucket.write("public/p.ts", b"p")
        anonymous = s3_client(bucket, unsigned=True)
        assert anonymous.get_object(Bucket=BUCKET, Key="public/p.ts")["Body"].read() == b"p"
        assert _code(anonymous.put_object, Key="public/q.ts", Body=b"q") == "AccessDenied"


# --- construction and the test surface -------------------------------------------------------


def test_bad_arguments_fail_at_construction() -> None:
    with pytest.raises(InvalidInputError):
        LocalBucket("Not_A_Bucket", tls=False)
    with pytest.raises(InvalidInputError):
        LocalBucket(account_id="1", tls=False)
    with pytest.raises(InvalidInputError):
        LocalBucket(region="mars", tls=False)
    with pytest.raises(InvalidInputError):
        LocalBucket(max_object_size=0, tls=False)
    with pytest.raises(ContainerPolicyError):
        LocalBucket(policy="{not json", tls=False)
    with pytest.raises(UnsupportedPolicyFeatureError):
        LocalBucket(tls=False, policy={"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}]})


def test_test_surface(bucket: LocalBucket, tmp_path: Path, ca: LocalCA) -> None:
    assert repr(bucket).startswith("LocalBucket(bucket='live-origin', https://127.0.0.1:")
    assert bucket.origin_url == f"{bucket.endpoint}/{BUCKET}"
    assert bucket.url("a b/c.ts") == f"{bucket.endpoint}/{BUCKET}/a%20b/c.ts"
    assert bucket.bucket_arn == "arn:aws:s3:::live-origin"
    assert bucket.object_arn("k") == "arn:aws:s3:::live-origin/k"
    meta = bucket.write("k", b"data", content_type="text/plain")
    assert meta.etag == f'"{hashlib.md5(b"data", usedforsecurity=False).hexdigest()}"'
    assert bucket.keys() == bucket.paths() == ["k"]
    with pytest.raises(ObjectNotFoundError) as info:
        bucket.read("missing")
    assert info.value.code == "NoSuchKey"
    bucket.clear()
    assert bucket.keys() == []
    with LocalBucket(BUCKET, ca=ca, storage_dir=tmp_path) as first:
        s3_client(first).put_object(Bucket=BUCKET, Key="kept", Body=b"kept",
                                    Metadata={"a": "b"})
    with LocalBucket(BUCKET, ca=ca, storage_dir=tmp_path) as second:
        got = s3_client(second).get_object(Bucket=BUCKET, Key="kept")
        assert (got["Body"].read(), got["Metadata"]) == (b"kept", {"a": "b"})
