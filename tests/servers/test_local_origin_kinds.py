"""The local origins take their rules from the origin descriptions, not from the
client; the server base's policy, accessors and error class; LocalStack's kinds."""

from __future__ import annotations

import datetime
import socket

import attrs
import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mediastore_ingest.errors import InvalidInputError, InvalidPathError, LocalStackError
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins import MEDIASTORE, S3
from mediastore_ingest.testing import (
    DEFAULT_CREDENTIALS,
    MAX_S3_OBJECT_SIZE,
    LocalBucket,
    LocalCA,
    LocalContainer,
    LocalHTTPServer,
    LocalStack,
)


def test_the_local_origins_stand_in_for_the_registered_descriptions() -> None:
    assert LocalContainer.origin is MEDIASTORE
    assert LocalBucket.origin is S3
    assert S3.max_object_bytes == MAX_S3_OBJECT_SIZE
    container = LocalContainer(tls=False)
    assert container.max_object_size == MEDIASTORE.max_object_bytes
    assert container.max_streaming_object_size == MEDIASTORE.max_streaming_bytes
    assert container.upload_timeout == MEDIASTORE.upload_deadline
    assert LocalBucket(tls=False).max_object_size == S3.max_object_bytes


def _no_tilde(path: object) -> str:
    checked = MEDIASTORE.validate_path(path)
    if "~" in checked:
        raise InvalidPathError(f"no '~' here: {checked!r}", path=checked)
    return checked


#: A description that only this test knows: MediaStore with a stricter path rule and
#: another SigV4 service name.
STRICT = attrs.evolve(
    MEDIASTORE, name="strict-test", validate_path=_no_tilde, sigv4_service="strict-test"
)


class StrictContainer(LocalContainer):
    origin = STRICT


def test_write_asks_the_description(ca: LocalCA) -> None:
    container = StrictContainer(ca=ca)
    with pytest.raises(InvalidPathError, match="no '~'"):
        container.write("live/a~b.ts", b"x")
    container.write("live/ab.ts", b"x")
    assert LocalContainer(ca=ca).write("live/a~b.ts", b"x").path == "live/a~b.ts"


def _signed_get(url: str, service: str) -> dict[str, str]:
    access_key, secret_key = next(iter(DEFAULT_CREDENTIALS.items()))
    request = AWSRequest(method="GET", url=url)
    request.context["timestamp"] = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ"
    )
    SigV4Auth(Credentials(access_key, secret_key), service, "us-west-2").add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


def test_the_http_api_asks_the_description(ca: LocalCA) -> None:
    with StrictContainer(ca=ca) as strict, LocalContainer(ca=ca) as plain, \
            urllib3.PoolManager(ca_certs=ca.ca_bundle, retries=False) as pool:
        # the path rule
        refused = pool.request("PUT", f"{strict.endpoint}/live/a~b.ts", body=b"x")
        assert (refused.status, refused.headers["x-amzn-ErrorType"]) == (
            400, "ValidationException"
        )
        # the SigV4 service: a request signed for MediaStore is out of scope here
        url = f"{strict.endpoint}/live/missing.ts"
        answer = pool.request("GET", url, headers=_signed_get(url, "mediastore"))
        assert answer.status == 403
        url = f"{strict.endpoint}/live/missing.ts"
        answer = pool.request("GET", url, headers=_signed_get(url, "strict-test"))
        assert answer.status == 404  # signed for its service: verified, then not found
        url = f"{plain.endpoint}/live/missing.ts"
        answer = pool.request("GET", url, headers=_signed_get(url, "mediastore"))
        assert answer.status == 404


# --- the server base ---------------------------------------------------------------------


def test_the_base_binds_loopback_only_by_default() -> None:
    for host in ("192.0.2.1", "::ffff:192.0.2.1", 5):
        with pytest.raises(InvalidInputError, match="loopback"):
            LocalHTTPServer(host=host)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="port"):
        LocalHTTPServer(port=70000)


def test_live_connections_lists_open_connections() -> None:
    server = LocalHTTPServer()
    assert server.live_connections() == []
    with server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            server.wait_for_request(lambda r: True, timeout=5)
            assert len(server.live_connections()) == 1
        with pytest.raises(LocalStackError, match="no matching request"):
            server.wait_for_request(lambda r: False, timeout=0.01)
    assert server.live_connections() == []
    with pytest.raises(LocalStackError, match="not running"):
        _ = server.port


# --- LocalStack's origin kinds -------------------------------------------------------------


def test_local_stack_names_the_kinds_it_can_build() -> None:
    with pytest.raises(InvalidInputError, match="'mediastore' or 's3', not 'strict-test'"):
        LocalStack(origin="strict-test")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="Origin Access Control"):
        LocalStack(origin="s3", secret=IngestSecret.generate())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"container_name": "no spaces"}, "container"),
        ({"origin": "s3", "bucket_name": "No_Caps"}, "bucket"),
        ({"origin": "s3", "region": "mars"}, "region"),
        ({"origin": "s3", "account_id": "12"}, "account_id"),
        ({"account_id": "12"}, "account_id"),
    ],
)
def test_local_stack_checks_the_origin_names_of_its_kind(
    kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        LocalStack(**kwargs)  # type: ignore[arg-type]
    # a name of the other kind is not checked
    LocalStack(origin="s3", container_name="no spaces")
    LocalStack(bucket_name="No_Caps")
