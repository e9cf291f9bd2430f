"""LocalEdge: CloudFront-like signature checks, header rewriting, streaming, faults.

Real servers on loopback: a LocalContainer (HTTPS, policy enforced) behind one or two
LocalEdges; clients are urllib3 / http.client so every byte on the wire is visible.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest.errors import InvalidInputError
from mediastore_ingest.signing.keys import KeyPair, public_key_pem
from mediastore_ingest.signing.policy import RESERVED_QUERY_PARAMS, CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.testing import (
    ALL_FAULT_KINDS,
    PLAYBACK_METHODS,
    FaultPlan,
    LocalContainer,
    LocalEdge,
    LocalStack,
)

NOW = 1_700_000_000
FAR = 2_147_483_000
READ_WRITE = (
    "mediastore:PutObject",
    "mediastore:DeleteObject",
    "mediastore:GetObject",
    "mediastore:DescribeObject",
)


class Clock:
    """A settable clock (epoch seconds) shared by the signer and the edges."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mediastore_stack_options(clock: Clock) -> dict[str, Any]:
    """The plugin's ``mediastore_stack`` with this clock; ingest may also read and delete."""
    return {"clock": clock, "ingest_actions": READ_WRITE}


def _error_code(response: urllib3.BaseHTTPResponse) -> str:
    body = response.data.decode()
    return body.split("<Code>", 1)[1].split("</Code>", 1)[0]


def _flip_signature(url: str) -> str:
    head, _, rest = url.partition("Signature=")
    value, amp, tail = rest.partition("&")
    i = len(value) // 2
    flipped = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
    return head + "Signature=" + flipped + amp + tail


# --- signatures ----------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa"])
@pytest.mark.parametrize("hash_algorithm", ["SHA1", "SHA256"])
@pytest.mark.parametrize("auth", ["url", "cookie"])
def test_signed_put_and_get_pass(
    rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    pool: urllib3.PoolManager,
    algorithm: str,
    hash_algorithm: str,
    auth: str,
) -> None:
    key = KeyPair(rsa_key if algorithm == "rsa" else ec_key)
    with LocalStack(key_pair=key, hash_algorithm=hash_algorithm) as stack:
        data = os.urandom(3000)
        path = f"live/{algorithm}/{hash_algorithm}/seg1.ts"
        if auth == "url":
            put_url, headers = stack.sign_ingest_url(path), {}
            get_url, get_headers = stack.sign_playback_url(path), {}
        else:
            expires = FAR
            put_url = stack.ingest_url(path)
            get_url = stack.playback_url(path)
            ingest = CustomPolicy(resource=stack.ingest_base_url + "/live/*", expires=expires)
            play = CustomPolicy(resource=stack.playback_base_url + "/*", expires=expires)
            headers = {"Cookie": stack.signer.cookie_header(ingest)}
            get_headers = {"Cookie": stack.signer.cookie_header(play)}
        assert ("Hash-Algorithm=SHA256" in put_url) == (
            auth == "url" and hash_algorithm == "SHA256"
        )
        put = pool.request("PUT", put_url, body=data, headers=headers)
        assert put.status == 200, put.data
        assert stack.container.read(path) == data
        got = pool.request("GET", get_url, headers=get_headers)
        assert got.status == 200
        assert got.data == data
        assert got.headers["X-Cache"] == "Miss from cloudfront"
        assert got.headers["X-Amz-Cf-Id"]
        assert got.headers["Via"].endswith(".cloudfront.net (CloudFront)")


def test_unsigned_request_is_missing_key(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    r = pool.request("PUT", mediastore_stack.ingest_url("live/a.ts"), body=b"x")
    assert r.status == 403
    assert r.headers["Content-Type"] == "text/xml"
    assert _error_code(r) == "MissingKey"
    assert r.headers["X-Edge-Error-Detail"] == "MissingSignature"
    assert r.headers["X-Cache"] == "Error from cloudfront"
    assert mediastore_stack.container.requests == []
    assert mediastore_stack.ingest_edge.forwarded == []
    assert mediastore_stack.ingest_edge.requests[-1].status == 403


def test_expired_by_the_injected_clock(
    mediastore_stack: LocalStack, clock: Clock, pool: urllib3.PoolManager
) -> None:
    url = mediastore_stack.signer.sign_url(mediastore_stack.ingest_url("live/a.ts"), expires=NOW + 60)
    assert pool.request("PUT", url, body=b"1").status == 200
    clock.now = NOW + 60  # DateLessThan: the expiry instant itself is too late
    r = pool.request("PUT", url, body=b"2")
    assert r.status == 403
    assert _error_code(r) == "AccessDenied"
    assert r.headers["X-Edge-Error-Detail"] == "PolicyExpiredError"
    assert mediastore_stack.container.read("live/a.ts") == b"1"


def test_signed_with_a_past_expiry(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    url = mediastore_stack.signer.sign_url(mediastore_stack.ingest_url("live/a.ts"), expires=NOW - 1,
                                           now=NOW - 2)
    r = pool.request("PUT", url, body=b"x")
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "PolicyExpiredError")


def test_tampered_signature(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    url = mediastore_stack.sign_ingest_url("live/a.ts")
    r = pool.request("PUT", _flip_signature(url), body=b"x")
    assert r.status == 403
    assert r.headers["X-Edge-Error-Detail"] in ("SignatureMismatchError", "MalformedSignatureError")
    assert mediastore_stack.container.paths() == []


def test_tampered_path_with_a_valid_signature(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    url = mediastore_stack.sign_ingest_url("live/a.ts")
    r = pool.request("PUT", url.replace("/live/a.ts", "/live/b.ts"), body=b"x")
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "SignatureMismatchError")


def test_wrong_key_id(
    mediastore_stack: LocalStack, ec_key: ec.EllipticCurvePrivateKey, pool: urllib3.PoolManager
) -> None:
    other = UrlSigner("KOTHERKEY12345", ec_key, hash_algorithm="SHA256")
    r = pool.request("PUT", other.sign_url(mediastore_stack.ingest_url("live/a.ts"), expires=NOW + 60,
                                           now=NOW),
                     body=b"x")
    assert r.status == 403
    assert _error_code(r) == "InvalidKey"
    assert r.headers["X-Edge-Error-Detail"] == "UnknownKeyIdError"


def test_right_key_id_wrong_key(
    mediastore_stack: LocalStack, ec_key: ec.EllipticCurvePrivateKey, pool: urllib3.PoolManager
) -> None:
    impostor = UrlSigner(mediastore_stack.key_id, ec_key, hash_algorithm="SHA256")
    r = pool.request("PUT", impostor.sign_url(mediastore_stack.ingest_url("live/a.ts"), expires=NOW + 60,
                                              now=NOW),
                     body=b"x")
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "SignatureMismatchError")


def test_source_ip_condition_uses_the_viewer_address(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    base = mediastore_stack.ingest_base_url + "/live/*"
    inside = CustomPolicy(resource=base, expires=NOW + 60, source_ip="127.0.0.1")
    outside = CustomPolicy(resource=base, expires=NOW + 60, source_ip="192.0.2.0/24")
    url = mediastore_stack.ingest_url("live/a.ts")
    ok = pool.request("PUT", mediastore_stack.signer.sign_url(url, policy=inside), body=b"x")
    assert ok.status == 200
    r = pool.request("PUT", mediastore_stack.signer.sign_url(url, policy=outside), body=b"x")
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "SourceIpMismatchError")


def test_cookie_policy_outside_its_resource(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    policy = CustomPolicy(resource=mediastore_stack.ingest_base_url + "/other/*", expires=NOW + 60)
    r = pool.request("PUT", mediastore_stack.ingest_url("live/a.ts"), body=b"x",
                     headers={"Cookie": mediastore_stack.signer.cookie_header(policy)})
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (403, "ResourceMismatchError")


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "OPTIONS", "PATCH"])
def test_playback_edge_refuses_methods_it_does_not_allow(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager, method: str
) -> None:
    url = mediastore_stack.signer.sign_url(mediastore_stack.playback_url("live/a.ts"), expires=NOW + 60)
    r = pool.request(method, url, body=b"x")
    assert r.status == 403
    assert _error_code(r) == "MethodNotAllowed"
    assert "not configured to allow the HTTP request method" in r.data.decode()
    assert mediastore_stack.container.requests == []


def test_ingest_edge_refuses_trace(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    r = pool.request("TRACE", mediastore_stack.sign_ingest_url("live/a.ts"))
    assert (r.status, _error_code(r)) == (403, "MethodNotAllowed")


def test_unsigned_playback_distribution(pool: urllib3.PoolManager) -> None:
    with LocalStack(playback_signed=False) as stack:
        stack.container.write("live/a.ts", b"hello")
        r = pool.request("GET", stack.playback_url("live/a.ts"))
        assert (r.status, r.data) == (200, b"hello")
        # the ingest distribution still wants signatures
        assert pool.request("PUT", stack.ingest_url("live/b.ts"), body=b"x").status == 403


def test_https_edges(pool: urllib3.PoolManager) -> None:
    with LocalStack(edge_tls=True) as stack, urllib3.PoolManager(
        ca_certs=stack.ca_bundle, retries=False
    ) as https:
        assert stack.ingest_base_url.startswith("https://127.0.0.1:")
        r = https.request("PUT", stack.sign_ingest_url("live/a.ts"), body=b"secure")
        assert r.status == 200
        assert https.request("GET", stack.sign_playback_url("live/a.ts")).data == b"secure"
        assert stack.ingest_edge.requests[-1].tls


# --- what the origin sees ------------------------------------------------------------


def test_origin_sees_the_injected_user_agent_never_the_viewers(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    viewer_agent = "EvilEncoder/6.6 (viewer)"
    url = mediastore_stack.sign_ingest_url("live/a.ts")
    r = pool.request("PUT", url, body=b"x", headers={
        "User-Agent": viewer_agent,
        "X-Forwarded-For": "198.51.100.7",
    })
    assert r.status == 200
    got = pool.request("GET", mediastore_stack.sign_playback_url("live/a.ts"),
                       headers={"User-Agent": viewer_agent, "Authorization": "Bearer t"})
    assert got.status == 200
    put, get = mediastore_stack.container.requests
    assert put.method == "PUT"
    assert put.user_agent == mediastore_stack.secret.user_agent
    assert get.user_agent == mediastore_stack.playback_secret.user_agent
    for seen in (put, get):
        assert all(viewer_agent not in value for _, value in seen.headers)
        assert seen.tls
        assert seen.header("Via") == mediastore_stack.ingest_edge.via or seen.header("Via") == (
            mediastore_stack.playback_edge.via
        )
        assert seen.header("X-Amz-Cf-Id")
    # CloudFront appends the viewer address; forwards Authorization only on writes
    assert put.header("X-Forwarded-For") == "198.51.100.7, 127.0.0.1"
    assert get.header("Authorization") is None
    r = pool.request("PUT", url, body=b"x", headers={"Authorization": "Bearer viewer-token"})
    assert r.status == 403  # the origin got it and wants SigV4 instead
    assert json.loads(r.data)["__type"] == "IncompleteSignatureException"
    assert mediastore_stack.container.requests[-1].header("Authorization") == "Bearer viewer-token"


def test_without_an_origin_header_the_origin_sees_amazon_cloudfront(
    pool: urllib3.PoolManager,
) -> None:
    with LocalContainer() as container, LocalEdge(container, require_signature=False) as edge:
        r = pool.request("GET", edge.base_url + "/live/missing.ts",
                         headers={"User-Agent": "viewer/1"})
        assert r.status == 403  # the default policy wants the account's credentials
        assert container.requests[-1].user_agent == "Amazon CloudFront"


def test_cloudfront_query_parameters_are_stripped(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    url = mediastore_stack.signer.sign_url(mediastore_stack.ingest_url("live/a.ts?token=abc&x=1"), expires=NOW + 60)
    assert "Signature=" in url
    assert pool.request("PUT", url, body=b"x").status == 200
    seen = mediastore_stack.container.requests[-1]
    assert seen.path == "/live/a.ts?token=abc&x=1"
    forwarded = mediastore_stack.ingest_edge.forwarded[-1]
    assert forwarded.path == seen.path
    assert not any(name + "=" in seen.path for name in RESERVED_QUERY_PARAMS)
    assert mediastore_stack.container.read("live/a.ts") == b"x"


def test_cloudfront_cookies_are_dropped_others_kept(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    policy = CustomPolicy(resource=mediastore_stack.ingest_base_url + "/*", expires=NOW + 60)
    cookie = f"session=abc; {mediastore_stack.signer.cookie_header(policy)}; theme=dark"
    r = pool.request("PUT", mediastore_stack.ingest_url("live/a.ts"), body=b"x", headers={"Cookie": cookie})
    assert r.status == 200
    assert mediastore_stack.container.requests[-1].header("Cookie") == "session=abc; theme=dark"


def test_origin_status_and_body_pass_through(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    r = pool.request("GET", mediastore_stack.sign_playback_url("live/none.ts"))
    assert r.status == 404
    assert json.loads(r.data)["__type"] == "ObjectNotFoundException"
    assert r.headers["x-amzn-ErrorType"] == "ObjectNotFoundException"
    mediastore_stack.container.write("live/a.ts", b"0123456789", content_type="video/mp2t")
    head = pool.request("HEAD", mediastore_stack.sign_playback_url("live/a.ts"))
    assert (head.status, head.headers["Content-Length"], head.data) == (200, "10", b"")
    assert head.headers["Content-Type"] == "video/mp2t"
    ranged = pool.request("GET", mediastore_stack.sign_playback_url("live/a.ts"), headers={"Range": "bytes=2-4"})
    assert (ranged.status, ranged.data) == (206, b"234")


def test_origin_refusal_passes_through(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    # The playback distribution's secret may read but not write: the origin says no.
    with LocalEdge(
        mediastore_stack.container,
        key_group=mediastore_stack.key_group,
        origin_headers={"User-Agent": mediastore_stack.playback_secret.user_agent},
    ) as edge:
        url = mediastore_stack.signer.sign_url(edge.base_url + "/live/a.ts", expires=FAR)
        r = pool.request("PUT", url, body=b"x")
    assert r.status == 403
    assert json.loads(r.data)["__type"] == "AccessDeniedException"
    assert mediastore_stack.container.paths() == []


def test_origin_unreachable_is_502(pool: urllib3.PoolManager) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with LocalEdge(f"http://127.0.0.1:{port}", require_signature=False) as edge:
        r = pool.request("GET", edge.base_url + "/live/a.ts")
    assert r.status == 502
    assert _error_code(r) == "BadGateway"
    assert edge.forwarded[-1].status is None


def test_origin_that_never_answers_is_504(pool: urllib3.PoolManager) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # accepts connections in the kernel, never answers
        port = listener.getsockname()[1]
        with LocalEdge(
            f"http://127.0.0.1:{port}", require_signature=False, origin_read_timeout=1
        ) as edge:
            r = pool.request("GET", edge.base_url + "/live/a.ts")
    assert (r.status, _error_code(r)) == (504, "GatewayTimeout")


def test_https_origin_with_an_untrusted_certificate_is_502(
    pool: urllib3.PoolManager, tmp_path: Path
) -> None:
    from mediastore_ingest.testing import LocalCA

    with LocalCA() as other, LocalContainer() as container, LocalEdge(
        container.endpoint, origin_ca_bundle=other.ca_bundle, require_signature=False
    ) as edge:
        r = pool.request("GET", edge.base_url + "/live/a.ts")
    assert (r.status, r.headers["X-Edge-Error-Detail"]) == (502, "SSLError")
    assert container.requests == []


def test_configuration_is_validated(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not allow"):
        LocalEdge("https://127.0.0.1:1", require_signature=False,
                  origin_headers={"Host": "x"})
    with pytest.raises(InvalidInputError):
        LocalEdge("https://127.0.0.1:1", require_signature=False,
                  origin_headers={"X-Amz-Date": "x"})
    with pytest.raises(InvalidInputError):
        LocalEdge("https://127.0.0.1:1", require_signature=False, allowed_methods=["PUT"])
    with pytest.raises(InvalidInputError, match="key_group"):
        LocalEdge("https://127.0.0.1:1")
    with pytest.raises(InvalidInputError):
        LocalEdge("https://127.0.0.1:1", require_signature=False, origin_read_timeout=0.5)
    with pytest.raises(InvalidInputError):
        LocalEdge("https://127.0.0.1:1", require_signature=False, host="0.0.0.0")  # noqa: S104 - refused
    assert LocalEdge("ftp://x", require_signature=False, allowed_methods=PLAYBACK_METHODS)


# --- streaming -----------------------------------------------------------------------


def test_chunked_upload_is_forwarded_as_it_arrives_and_followed_live(
    mediastore_stack: LocalStack,
) -> None:
    path = "live/stream.ts"
    target = mediastore_stack.sign_ingest_url(path)[len(mediastore_stack.ingest_base_url):]
    first, second = b"A" * 5000, b"B" * 7000
    writer = http.client.HTTPConnection("127.0.0.1", mediastore_stack.ingest_edge.port, timeout=10)
    try:
        writer.putrequest("PUT", target)
        writer.putheader("Transfer-Encoding", "chunked")
        writer.putheader("Content-Type", "video/mp2t")
        writer.putheader("x-amz-upload-availability", "streaming")
        writer.endheaders()
        writer.send(b"%x\r\n%s\r\n" % (len(first), first))
        # The origin has the first chunk while the viewer's body is still open: the
        # edge forwards as it reads, it does not collect the body first.
        assert mediastore_stack.container.wait_for_streaming_upload(path, min_bytes=len(first)) == first
        # A player following the upload through the playback edge gets it too.
        reader = urllib3.PoolManager(retries=False)
        live = reader.request("GET", mediastore_stack.sign_playback_url(path), preload_content=False)
        assert live.status == 200
        assert live.headers.get("Transfer-Encoding") == "chunked"
        pieces = live.read_chunked()
        early = next(pieces)
        assert early == first[: len(early)]
        writer.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        response = writer.getresponse()
        assert response.status == 200, response.read()
        rest = b"".join(pieces)
        assert early + rest == first + second
        reader.clear()
    finally:
        writer.close()
    assert mediastore_stack.container.read(path) == first + second
    forwarded = mediastore_stack.ingest_edge.forwarded[-1]
    assert forwarded.chunked
    assert forwarded.body_bytes == len(first) + len(second)
    put = next(r for r in mediastore_stack.container.requests if r.method == "PUT")
    assert put.header("Transfer-Encoding") == "chunked"


def test_fixed_length_upload_keeps_its_length(
    mediastore_stack: LocalStack, pool: urllib3.PoolManager
) -> None:
    def gen() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1000

    r = pool.request("PUT", mediastore_stack.sign_ingest_url("live/a.ts"), body=gen(),
                     headers={"Content-Length": "10000"})
    assert r.status == 200
    seen = mediastore_stack.container.requests[-1]
    assert seen.header("Content-Length") == "10000"
    assert seen.header("Transfer-Encoding") is None
    assert not mediastore_stack.ingest_edge.forwarded[-1].chunked


def test_keep_alive_to_the_origin_is_pooled(mediastore_stack: LocalStack, pool: urllib3.PoolManager) -> None:
    for i in range(5):
        assert pool.request("PUT", mediastore_stack.sign_ingest_url(f"live/{i}.ts"), body=b"x").status == 200
    peers = {
        (r.peer, r.header("X-Amz-Cf-Id") is not None) for r in mediastore_stack.container.requests
    }
    assert peers == {("127.0.0.1", True)}
    edge_pool = mediastore_stack.ingest_edge._pool()
    assert edge_pool.num_connections == 1  # five requests, one origin connection


_EDGE_PROCESS = textwrap.dedent(
    """
    import json, os, sys, tracemalloc
    from mediastore_ingest.testing import LocalEdge

    origin, ca_bundle, key_id, pem = sys.argv[1:5]
    edge = LocalEdge(
        origin,
        origin_ca_bundle=ca_bundle,
        key_group={key_id: pem.encode()},
        origin_headers={"User-Agent": os.environ["EDGE_ORIGIN_UA"]},
    ).start()
    print(edge.base_url, flush=True)
    tracemalloc.start()
    for line in sys.stdin:
        if line.strip() == "reset":
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            print("ok", flush=True)
        elif line.strip() == "peak":
            print(tracemalloc.get_traced_memory()[1] - base, flush=True)
        else:
            break
    edge.stop()
    """
)


def test_20_mb_streams_through_without_the_edge_holding_it() -> None:
    """The edge runs in its own process under tracemalloc: the peak of everything
    Python allocates there while a 20 MiB body goes through (upload chunked, upload
    with Content-Length, download) must stay far below the body size. Buffering the
    body whole anywhere in the edge would put the peak above 20 MiB."""
    size, piece = 20 * 1024 * 1024, 256 * 1024
    block = os.urandom(piece)
    digest = hashlib.sha256(block * (size // piece)).hexdigest()

    def body() -> Iterator[bytes]:
        for _ in range(size // piece):
            yield block

    url_path = "/live/big.ts"
    with LocalStack(ingest_actions=READ_WRITE) as stack, urllib3.PoolManager(
        retries=False, timeout=60
    ) as client:
        env = dict(os.environ, EDGE_ORIGIN_UA=stack.secret.user_agent)
        with subprocess.Popen(
            [sys.executable, "-c", _EDGE_PROCESS, stack.container_endpoint, stack.ca_bundle,
             stack.key_id, public_key_pem(stack.public_key)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        ) as proc:
            stdin, stdout = proc.stdin, proc.stdout
            assert stdin is not None
            assert stdout is not None
            base_url = stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:")
            url = stack.signer.sign_url(base_url + url_path, expires=FAR)

            def peak_of(action: Callable[[], None]) -> int:
                stdin.write("reset\n")
                stdin.flush()
                assert stdout.readline().strip() == "ok"
                action()
                stdin.write("peak\n")
                stdin.flush()
                return int(stdout.readline())

            def upload_chunked() -> None:
                r = client.request("PUT", url, body=body(), chunked=True)
                assert r.status == 200, r.data

            def upload_fixed() -> None:
                r = client.request("PUT", url, body=body(), headers={"Content-Length": str(size)})
                assert r.status == 200, r.data

            received: list[str] = []

            def download() -> None:
                r = client.request("GET", url, preload_content=False)
                h = hashlib.sha256()
                for chunk in r.stream(piece):
                    h.update(chunk)
                r.release_conn()
                received.append(h.hexdigest())

            peaks = [peak_of(upload_chunked)]
            assert hashlib.sha256(stack.container.read("live/big.ts")).hexdigest() == digest
            peaks.append(peak_of(upload_fixed))
            peaks.append(peak_of(download))
            stdin.close()
            assert proc.wait(timeout=20) == 0
    assert received == [digest]
    # Everything the edge process allocated at its peak, per transfer: a fraction of
    # the 20 MiB body (buffers of 64 KiB pieces, TLS, threads).
    assert all(peak < 4 * 1024 * 1024 for peak in peaks), peaks


# --- faults --------------------------------------------------------------------------


def test_fault_plan_is_deterministic() -> None:
    plan = FaultPlan(seed=5, failure_rate=0.5)
    first = plan.preview(200)
    assert first == FaultPlan(seed=5, failure_rate=0.5).preview(200)
    assert first != FaultPlan(seed=6, failure_rate=0.5).preview(200)
    assert set(first) == {None, *ALL_FAULT_KINDS}
    assert 60 < sum(k is not None for k in first) < 140
    assert FaultPlan.none().preview(50) == [None] * 50
    assert set(FaultPlan.always("delay").preview(20)) == {"delay"}


def test_fault_plan_validation() -> None:
    with pytest.raises(InvalidInputError):
        FaultPlan(failure_rate=1.5)
    with pytest.raises(InvalidInputError):
        FaultPlan(kinds=("explode",))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        FaultPlan(kinds=())
    with pytest.raises(InvalidInputError):
        FaultPlan(retry_after=-1)
    with pytest.raises(AttributeError):
        FaultPlan().seed = 2  # type: ignore[misc]


def test_fault_plan_valid_input_is_unchanged() -> None:
    assert FaultPlan(seed=3, kinds="delay", failure_rate=1).preview(2) == ["delay", "delay"]
    assert FaultPlan(seed="text").preview(0) == []


def test_fault_schedule_is_thread_safe() -> None:
    schedule = FaultPlan(seed=3, failure_rate=0.3).schedule()
    threads = [threading.Thread(target=lambda: [schedule.next() for _ in range(500)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert schedule.decisions == 2000
    expected = FaultPlan(seed=3, failure_rate=0.3).preview(2000)
    assert [f.index for f in schedule.log] == [i for i, k in enumerate(expected) if k]
    assert sorted(schedule.counts().items()) == sorted(
        {k: expected.count(k) for k in ALL_FAULT_KINDS if expected.count(k)}.items()
    )


def _run_sequence(container: LocalContainer, plan: FaultPlan, n: int) -> list[tuple[int, str]]:
    sleeps: list[float] = []
    with LocalEdge(container, require_signature=False, faults=plan,
                   origin_headers={"User-Agent": "MediaStore-Secret-" + "s" * 30},
                   sleep=sleeps.append) as edge, urllib3.PoolManager(retries=False) as client:
        for _ in range(n):
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                client.request("GET", edge.base_url + "/live/a.ts", timeout=10)
        assert sleeps == [plan.delay] * edge.faults_injected.get("delay", 0)
        return [(f.index, f.kind) for f in edge.fault_log]


def test_same_seed_same_faults_at_the_edge() -> None:
    from mediastore_ingest.iam.secret import IngestSecret
    from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder

    secret = IngestSecret("s" * 30)
    policy = (ContainerPolicyBuilder(region="us-west-2", account_id="111122223333",
                                     container="live")
              .allow_account_full_access().allow_cloudfront_read(secret).build())
    with LocalContainer(policy=policy) as container:
        container.write("live/a.ts", b"z" * 1000)
        plan = FaultPlan(seed=11, failure_rate=0.4, delay=0.01)
        first = _run_sequence(container, plan, 40)
        second = _run_sequence(container, plan, 40)
    expected = [(i, k) for i, k in enumerate(plan.preview(40)) if k is not None]
    assert first == second == expected
    assert len({k for _, k in first}) >= 4


@pytest.fixture
def faulty(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    plan: FaultPlan = request.param
    with LocalStack(faults=plan, ingest_actions=READ_WRITE) as s:
        yield s


@pytest.mark.parametrize(
    ("faulty", "status"),
    [(FaultPlan.always("http_502"), 502),
     (FaultPlan.always("http_503", retry_after=3), 503),
     (FaultPlan.always("http_504"), 504)],
    indirect=["faulty"],
)
def test_injected_error_statuses(
    faulty: LocalStack, status: int, pool: urllib3.PoolManager
) -> None:
    r = pool.request("PUT", faulty.sign_ingest_url("live/a.ts"), body=b"x" * 10_000)
    assert r.status == status
    assert r.headers["X-Edge-Error-Detail"] == f"InjectedFault:http_{status}"
    assert r.headers.get("Retry-After") == ("3" if status == 503 else None)
    assert faulty.ingest_edge.faults_injected == {f"http_{status}": 1}
    assert faulty.container.requests == []
    # the playback edge never injects faults
    faulty.container.write("live/b.ts", b"ok")
    assert pool.request("GET", faulty.sign_playback_url("live/b.ts")).data == b"ok"


@pytest.mark.parametrize("faulty", [FaultPlan.always("drop_request")], indirect=True)
@pytest.mark.parametrize(("size", "chunked"), [(100_000, False), (100_000, True),
                                               (3_000, False), (3_000, True)])
def test_dropped_request_reaches_the_origin_incomplete_and_stores_nothing(
    faulty: LocalStack, pool: urllib3.PoolManager, size: int, chunked: bool
) -> None:
    data = os.urandom(size)

    def body() -> Iterator[bytes]:
        for i in range(0, size, 1000):
            yield data[i : i + 1000]

    sent = {"body": body(), "chunked": True} if chunked else {"body": data}
    with pytest.raises(urllib3.exceptions.ProtocolError):
        pool.request("PUT", faulty.sign_ingest_url("live/a.ts"), **sent)  # type: ignore[arg-type]
    origin_saw = faulty.container.wait_for_request(lambda r: r.method == "PUT")
    faulty.container.wait_for_request(lambda r: r.method == "PUT" and r.status is None)
    assert origin_saw.bytes_received < size or chunked  # chunked: the end is withheld
    assert faulty.container.paths() == []
    assert faulty.ingest_edge.faults_injected == {"drop_request": 1}
    forwarded = faulty.ingest_edge.forwarded[-1]
    assert (forwarded.fault, forwarded.status) == ("drop_request", None)
    assert forwarded.body_bytes == min(16 * 1024, size - (0 if chunked else 1))


@pytest.mark.parametrize("faulty", [FaultPlan.always("drop_request")], indirect=True)
def test_dropped_bodiless_request(faulty: LocalStack, pool: urllib3.PoolManager) -> None:
    with pytest.raises(urllib3.exceptions.ProtocolError):
        pool.request("GET", faulty.sign_ingest_url("live/a.ts"))
    assert faulty.container.requests == []
    assert faulty.ingest_edge.faults_injected == {"drop_request": 1}


@pytest.mark.parametrize("faulty", [FaultPlan.always("reset_response")], indirect=True)
def test_reset_response_cuts_the_body(faulty: LocalStack, pool: urllib3.PoolManager) -> None:
    faulty.container.write("live/a.ts", b"y" * 5000)
    r = pool.request("GET", faulty.sign_ingest_url("live/a.ts"), preload_content=False)
    assert (r.status, r.headers["Content-Length"]) == (200, "5000")
    assert r.read(64) == b"y" * 64  # reset_after_bytes, then nothing more
    with pytest.raises(urllib3.exceptions.ProtocolError):
        r.read(1)
    r.release_conn()
    # a PUT is acted on by the origin, then its answer is cut
    with pytest.raises(urllib3.exceptions.ProtocolError):
        pool.request("PUT", faulty.sign_ingest_url("live/b.ts"), body=b"stored anyway")
    assert faulty.container.read("live/b.ts") == b"stored anyway"
    # a bodiless answer is cut before its head
    with pytest.raises(urllib3.exceptions.ProtocolError):
        pool.request("HEAD", faulty.sign_ingest_url("live/a.ts"))
    assert faulty.ingest_edge.faults_injected == {"reset_response": 3}


def test_delay_fault_holds_then_forwards(pool: urllib3.PoolManager) -> None:
    sleeps: list[float] = []
    with LocalContainer() as container, LocalEdge(
        container, require_signature=False, faults=FaultPlan.always("delay", delay=1.5),
        sleep=sleeps.append,
    ) as edge:
        r = pool.request("GET", edge.base_url + "/live/a.ts")
        assert r.status == 403  # forwarded: the origin's own answer
        assert sleeps == [1.5]
        assert edge.faults_injected == {"delay": 1}
        assert edge.forwarded[-1].fault == "delay"


# --- the edge answers only for its own host -----------------------------------------------------


def test_edge_refuses_a_foreign_host_header():
    with LocalStack() as stack:
        base = stack.ingest_base_url
        policy = CustomPolicy(base + "/live/*", int(time.time()) + 600)
        url = stack.signer.sign_url(base + "/live/ok.ts", policy=policy)
        query = url.split("?", 1)[1]
        host = base.split("://", 1)[1]
        http = urllib3.PoolManager()
        smuggled = http.request("PUT", f"{base}/admin/evil.ts?{query}", body=b"data",
                                headers={"Host": host + "/live"})
        assert smuggled.status in (400, 403)
        playback = stack.sign_playback_url("live/x.ts")
        replayed = http.request(
            "PUT", base + "/live/x.ts?" + playback.split("?", 1)[1], body=b"pwned",
            headers={"Host": stack.playback_base_url.split("://", 1)[1]},
        )
        assert replayed.status in (400, 403)
        assert stack.container.paths() == []
