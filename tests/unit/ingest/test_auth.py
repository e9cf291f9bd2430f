"""Signed requests: canned URLs, a reused wildcard policy, signed cookies — checked by a
loopback server that verifies exactly what arrived with UrlVerifier."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mediastore_ingest.errors import AccessDeniedError, InvalidInputError, VerificationError
from mediastore_ingest.ingest import IngestClient, IngestConfig, RetryPolicy
from mediastore_ingest.signing.policy import CannedPolicy, CustomPolicy
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier
from mediastore_ingest.testing import LocalHTTPServer, RequestHandler

KEY_ID = "K2JCJMDEHXQW5F"
T0 = 1_900_000_000


class VerifyingHandler(RequestHandler):
    def _run(self) -> None:
        server: VerifyingEdge = self.owner  # type: ignore[assignment]
        body = self.read_body() if self.has_body() else b""
        url = server.base_url + self.path
        cookie = self.headers.get("Cookie")
        try:
            if cookie is not None:
                policy = server.verifier.verify_cookies(url, cookie, now=server.now)
            else:
                policy = server.verifier.verify_url(url, now=server.now)
        except VerificationError as exc:
            with server.lock:
                server.log.append((self.command, self.path, cookie, exc))
            self.send_body(403, b"<Error><Code>AccessDenied</Code></Error>",
                           content_type="text/xml")
            return
        with server.lock:
            server.log.append((self.command, self.path, cookie, policy))
            if self.command == "PUT":
                server.stored[self.path.partition("?")[0]] = body
        self.send_json(200, {"ETag": "e"}, head=self.command == "HEAD")

    do_PUT = do_GET = do_HEAD = do_DELETE = _run


class VerifyingEdge(LocalHTTPServer):
    handler_class = VerifyingHandler

    def __init__(self, verifier: UrlVerifier) -> None:
        super().__init__()
        self.verifier = verifier
        self.now = T0
        self.lock = threading.Lock()
        self.log: list[tuple[str, str, str | None, Any]] = []
        self.stored: dict[str, bytes] = {}


@pytest.fixture(scope="module")
def signer(rsa_key: rsa.RSAPrivateKey) -> UrlSigner:
    return UrlSigner(KEY_ID, rsa_key)


@pytest.fixture
def edge(rsa_key: rsa.RSAPrivateKey) -> Iterator[VerifyingEdge]:
    with VerifyingEdge(UrlVerifier({KEY_ID: rsa_key.public_key()})) as server:
        yield server


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_canned_url_per_request(edge: VerifyingEdge, signer: UrlSigner) -> None:
    clock = Clock(T0)
    client = IngestClient(edge.base_url, signer=signer, clock=clock, sleep=lambda s: None)
    result = client.put("live/seg_1.ts", b"data")
    assert result.url_signed
    assert "Signature" not in repr(result)
    assert edge.stored["/live/seg_1.ts"] == b"data"
    _, path, cookie, policy = edge.log[-1]
    assert cookie is None
    assert isinstance(policy, CannedPolicy)
    assert policy.expires == T0 + 300
    assert policy.resource == edge.base_url + "/live/seg_1.ts"
    signed = SignedUrl.parse(edge.base_url + path)
    assert signed.url == result.url
    assert signed.expires == T0 + 300
    assert client.get("live/seg_1.ts") == b'{"ETag":"e"}'
    client.head("live/seg_1.ts")
    client.delete("live/seg_1.ts")
    assert [m for m, *_ in edge.log] == ["PUT", "GET", "HEAD", "DELETE"]


def test_expired_signature_is_refused_and_not_retried(
    edge: VerifyingEdge, signer: UrlSigner
) -> None:
    edge.now = T0 + 301  # the edge is past the URL's expiry
    client = IngestClient(edge.base_url, signer=signer, clock=Clock(T0), sleep=lambda s: None)
    with pytest.raises(AccessDeniedError) as err:
        client.put("live/a.ts", b"x")
    assert err.value.code == "AccessDenied"
    assert len(edge.log) == 1


def test_wildcard_policy_is_reused_then_renewed(edge: VerifyingEdge, signer: UrlSigner) -> None:
    clock = Clock(T0)
    policy = CustomPolicy(edge.base_url + "/live/*", T0 + 120)
    client = IngestClient(
        edge.base_url, signer=signer, policy=policy, url_expiry=600, clock=clock,
        config=IngestConfig(policy_renew_margin=60),
    )
    client.put("live/a.ts", b"1")
    clock.t = T0 + 50
    client.put("live/b.ts", b"2")
    seen = [entry[3] for entry in edge.log]
    assert seen[0] == seen[1] == policy
    clock.t = T0 + 70  # 50 s left < 60 s margin: re-signed with a fresh expiry
    edge.now = T0 + 70
    client.put("live/c.ts", b"3")
    renewed = edge.log[-1][3]
    assert isinstance(renewed, CustomPolicy)
    assert renewed.resource == policy.resource
    assert renewed.expires == T0 + 70 + 600
    assert "Policy=" in edge.log[-1][1]
    assert "Expires=" not in edge.log[-1][1]


def test_signed_cookies_carry_a_wildcard_policy(edge: VerifyingEdge, signer: UrlSigner) -> None:
    client = IngestClient(edge.base_url, signer=signer, auth="cookie", clock=Clock(T0))
    client.put("live/a.ts", b"1")
    client.put("live/sub/b.m3u8", (p for p in [b"#EXTM3U\n"]))
    for _, path, cookie, policy in edge.log:
        assert "?" not in path  # nothing in the URL
        assert cookie is not None
        assert "CloudFront-Policy=" in cookie
        assert isinstance(policy, CustomPolicy)
        assert policy.resource == edge.base_url + "/*"
        assert policy.expires == T0 + 300
    assert edge.stored["/live/sub/b.m3u8"] == b"#EXTM3U\n"
    assert "CloudFront" not in repr(client)


def test_cookie_header_is_redacted_in_request_repr(signer: UrlSigner) -> None:
    from mediastore_ingest.ingest import MockTransport, Request, Response

    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, {}, b"{}")

    client = IngestClient("https://d1.example.net", signer=signer, auth="cookie",
                          transport=MockTransport(handler), clock=Clock(T0))
    client.put("live/a.ts", b"x")
    assert "CloudFront-Signature" in (seen[0].headers.get("Cookie") or "")
    assert "CloudFront-Signature" not in repr(seen[0])


def test_signed_url_repr_hides_signature(signer: UrlSigner) -> None:
    from mediastore_ingest.ingest import MockTransport, Request, Response

    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, {}, b"{}")

    client = IngestClient("https://d1.example.net/prefix", signer=signer,
                          transport=MockTransport(handler), clock=Clock(T0))
    client.put("live/x.ts", b"x")
    url = seen[0].url
    assert url.startswith("https://d1.example.net/prefix/live/x.ts?Expires=")
    assert "Signature=" in url
    assert url.split("Signature=")[1].split("&")[0] not in repr(seen[0])


def test_signing_options_are_checked(signer: UrlSigner) -> None:
    with pytest.raises(InvalidInputError):
        IngestClient("https://d1.example.net", auth="cookie")
    with pytest.raises(InvalidInputError):
        IngestClient("https://d1.example.net", policy=CustomPolicy("https://d1.example.net/*", T0))
    with pytest.raises(InvalidInputError):
        IngestClient("https://d1.example.net", signer=signer, auth="header")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        IngestClient("https://d1.example.net/?a=b", signer=signer)
    with pytest.raises(InvalidInputError):
        IngestClient("ftp://d1.example.net")
    with pytest.raises(InvalidInputError):
        IngestClient("https://d1.example.net", url_expiry=0)
    with pytest.raises(InvalidInputError):
        IngestConfig(retry=RetryPolicy(max_attempts=0))


def test_url_is_sent_exactly_as_signed(edge: VerifyingEdge, signer: UrlSigner) -> None:
    # a base path with a lower-case escape: urllib3 would upper-case it on the wire, so
    # the client must sign the form that is sent
    client = IngestClient(edge.base_url + "/pre%2dfix/[x]", signer=signer, clock=Clock(T0))
    client.put("live/a.ts", b"x")
    _, path, _, policy = edge.log[-1]
    assert isinstance(policy, CannedPolicy)
    assert path.startswith("/pre%2Dfix/%5Bx%5D/live/a.ts?Expires=")
    assert client.base_url == edge.base_url + "/pre%2Dfix/%5Bx%5D"
