"""Every place a secret could show × the secret is never shown.

A secret here is key material, an ingest secret (``MediaStore-Secret-…``), a password,
a proxy's credentials, a signature or a SigV4 ``Authorization``, an origin custom header.
The places are where a person or a log would read it: an error's message, its ``args``,
its ``__cause__``/``__context__`` chain and the traceback as printed; a ``repr`` (what
pytest prints for a failed ``assert``) and a pretty-printed one; a DEBUG log line; and
the output of a user's failing pytest run with the package's plugin.

Each row is a function registered with :func:`place`: it makes the secret reach that
place and returns what the place shows, with the secrets that must not be in it
(:class:`Shown`). Checks that the place still works, or names what it should, stay in
the row. The one test asserts that no secret, nor a 16-character piece of its middle,
appears.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import logging
import pprint
import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import urllib3
from botocore.exceptions import ClientError, ParamValidationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    KeyLoadError,
    ProvisioningError,
)
from mediastore_ingest.iam.document import (
    Condition,
    ContainerPolicy,
)
from mediastore_ingest.ingest import Headers, Urllib3Transport
from mediastore_ingest.provisioning import Provisioner, ProvisioningSpec
from mediastore_ingest.signing.keys import load_private_key, load_public_key
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.testing import LocalBucket, LocalContainer, LocalEdge, LocalStack
from tests._support.policies import statement
from tests._support.provisioning import (
    OTHER,
    PUBLIC_PEM,
    SECRET,
    FakeMediaStore,
    mediastore_spec,
)


@dataclass(frozen=True)
class Shown:
    """What a place shows, and the secrets that must not be in it."""

    text: str
    secrets: tuple[str, ...]


PLACES: dict[str, Callable[[pytest.FixtureRequest], Shown]] = {}


def place(
    name: str, params: dict[str, Any] | None = None
) -> Callable[[Callable[..., Shown]], Callable[..., Shown]]:
    """Register a row (once per entry of ``params``: ``name[id]``, called with the value)."""

    def register(show: Callable[..., Shown]) -> Callable[..., Shown]:
        if params is None:
            assert name not in PLACES, name
            PLACES[name] = show
        for param_id, value in (params or {}).items():
            row = f"{name}[{param_id}]"
            assert row not in PLACES, row
            PLACES[row] = lambda request, v=value: show(request, v)
        return show

    return register


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def error_shows(exc: BaseException, *secrets: str) -> Shown:
    """The traceback as printed, plus str/repr/args of every chained exception; each
    secret and the middle 16 characters of it must be absent."""
    parts = ["".join(traceback.format_exception(exc))]
    for e in _chain(exc):
        parts += [str(e), repr(e), repr(e.args)]
    hidden = []
    for secret in secrets:
        hidden += [secret, secret[len(secret) // 3 : len(secret) // 3 + 16]]
    return Shown("\n".join(parts), tuple(hidden))


def refusal(call: Callable[[], object], error: type[Exception],
            match: str | None = None) -> BaseException:
    with pytest.raises(error, match=match) as info:
        call()
    return info.value


# === error messages: key material =============================================================


def _b64_der_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return base64.b64encode(der).decode()


def _pem_body(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return "\n".join(line for line in pem.splitlines() if not line.startswith("-----"))


_KEY_TEXTS = {
    f"{kind}-{form}-{entry}": (kind, form, entry)
    for kind in ("ec", "rsa") for form in ("b64-der", "pem-body")
    for entry in ("load_private_key", "UrlSigner")
}


@place("error/private-key-text-given-as-a-str", _KEY_TEXTS)
def _(request: pytest.FixtureRequest, case: tuple[str, str, str]) -> Shown:
    kind, form, entry = case
    key = request.getfixturevalue("rsa_key" if kind == "rsa" else "ec_key")
    text = _b64_der_private(key) if form == "b64-der" else _pem_body(key)
    if entry == "load_private_key":
        exc = refusal(lambda: load_private_key(text), KeyLoadError,
                      r"neither PEM text \(.*\) nor the path")
    else:
        exc = refusal(lambda: UrlSigner("K1", text), KeyLoadError)
    return error_shows(exc, text, text.replace("\n", ""))


@place("error/public-key-text-given-as-a-str")
def _(request: pytest.FixtureRequest) -> Shown:
    key: rsa.RSAPrivateKey = request.getfixturevalue("rsa_key")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b64encode(der).decode()
    exc = refusal(lambda: load_public_key(text), KeyLoadError,
                  r"neither PEM text \(.*\) nor the path")
    return error_shows(exc, text)


@place("error/a-password-with-a-lone-surrogate")
def _(request: pytest.FixtureRequest) -> Shown:
    key: ec.EllipticCurvePrivateKey = request.getfixturevalue("ec_key")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    password = "secret-pass\ud800word"
    exc = refusal(lambda: load_private_key(pem, password=password), InvalidInputError, "password")
    return error_shows(exc, password)


# === error messages: ingest secrets in specs and policies =====================================


@place("error/spec-takes-only-IngestSecret", {
    f"{field}-{value_id}": (field, value)
    for field in ("ingest_secret", "playback_secret")
    for value_id, value in (("value", SECRET.value), ("user-agent", SECRET.user_agent),
                            ("bytes", SECRET.value.encode()))
})
def _(request: pytest.FixtureRequest, case: tuple[str, Any]) -> Shown:
    field, value = case
    kwargs: dict[str, Any] = {"ingest_secret": OTHER, "playback_secret": OTHER}
    kwargs[field] = value
    if field == "ingest_secret":
        kwargs["playback"] = False
        del kwargs["playback_secret"]
    exc = refusal(lambda: ProvisioningSpec(container_name="live", public_key_pem=PUBLIC_PEM,
                                           **kwargs), InvalidInputError, "IngestSecret")
    assert type(value).__name__ in str(exc)
    assert field in str(exc)
    return error_shows(exc, SECRET.value)


@place("error/condition-given-as-a-tuple")
def _(request: pytest.FixtureRequest) -> Shown:
    exc = refusal(lambda: statement(
        conditions=[("StringEquals", "aws:UserAgent", SECRET.user_agent)]),
        ContainerPolicyError, "tuple")
    return error_shows(exc, SECRET.value)


@place("error/statement-given-as-a-dict")
def _(request: pytest.FixtureRequest) -> Shown:
    document = {
        "Effect": "Allow", "Principal": "*", "Action": "mediastore:PutObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:UserAgent": SECRET.user_agent}},
    }
    exc = refusal(lambda: ContainerPolicy(statements=[document]),  # type: ignore[list-item]
                  ContainerPolicyError, "dict")
    return error_shows(exc, SECRET.value)


_REFUSED_VALUES: dict[str, Callable[[], object]] = {
    "bytes-value": lambda: Condition("StringEquals", "aws:UserAgent", [SECRET.user_agent.encode()]),
    "principal-dict": lambda: statement(principal={"AWS": SECRET.user_agent}),
    "not-principal-list": lambda: statement(not_principal=[SECRET.user_agent], principal=None),
    "sid-list": lambda: statement(sid=[SECRET.user_agent]),
    "effect": lambda: statement(effect=SECRET.user_agent),
    "policy-id": lambda: ContainerPolicy(statements=[statement()], policy_id=[SECRET.user_agent]),
    "version": lambda: ContainerPolicy(statements=[statement()], version=SECRET.user_agent),
    "json-condition-object": lambda: ContainerPolicy.from_json(json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Principal": "*", "Action": "mediastore:Get*",
                      "Resource": "*", "Condition": {"StringEquals": {
                          "aws:UserAgent": {"v": SECRET.user_agent}}}},
    })),
    "json-effect-list": lambda: ContainerPolicy.from_json(json.dumps({
        "Version": "2012-10-17",
        "Statement": {"Effect": [SECRET.user_agent], "Principal": "*",
                      "Action": "mediastore:Get*", "Resource": "*"},
    })),
    "json-version": lambda: ContainerPolicy.from_json(json.dumps({
        "Version": {"v": SECRET.user_agent}, "Statement": [],
    })),
}


@place("error/a-refused-policy-value", _REFUSED_VALUES)
def _(request: pytest.FixtureRequest, build: Callable[[], object]) -> Shown:
    return error_shows(refusal(build, ContainerPolicyError), SECRET.value)


@place("error/findings-known-secrets-given-as-str")
def _(request: pytest.FixtureRequest) -> Shown:
    policy = ContainerPolicy(statements=[statement()])
    exc = refusal(lambda: policy.findings(known_secrets=[SECRET.value]),  # type: ignore[list-item]
                  InvalidInputError, "IngestSecret")
    with pytest.raises(InvalidInputError, match="IngestSecret"):
        policy.findings(known_secrets=SECRET)  # type: ignore[arg-type]
    assert policy.findings(known_secrets=[SECRET]) == policy.findings(known_secrets=(SECRET,))
    return error_shows(exc, SECRET.value)


# === error messages: AWS errors, headers, proxies =============================================


@place("error/a-redacted-aws-error-does-not-chain-it", {
    "client-error": ClientError(
        {"Error": {"Code": "AccessDeniedException",
                   "Message": f"User-Agent {SECRET.user_agent} is not allowed"}},
        "DescribeContainer",
    ),
    "param-validation": ParamValidationError(
        report=f"Invalid value {OTHER.user_agent} for ContainerName"),
})
def _(request: pytest.FixtureRequest, error: Exception) -> Shown:
    p = Provisioner(mediastore_client=FakeMediaStore(error), cloudfront_client=object())
    exc = refusal(lambda: p.plan(mediastore_spec()), ProvisioningError)
    assert isinstance(exc, ProvisioningError)
    assert exc.operation == "DescribeContainer"
    assert exc.code in ("AccessDeniedException", "ParamValidationError")
    assert exc.code in str(exc)
    assert "DescribeContainer" in str(exc)
    assert "<hidden>" in str(exc)
    assert exc.__cause__ is None
    return error_shows(exc, SECRET.value, OTHER.value)


@place("error/a-bad-header-item", {
    "str": "User-Agent: MediaStore-Secret-TopSecretValue123456",
    "triple": ("User-Agent", "MediaStore-Secret-TopSecretValue123456", "x"),
})
def _(request: pytest.FixtureRequest, item: object) -> Shown:
    exc = refusal(lambda: Headers([item]), InvalidInputError)  # type: ignore[list-item]
    return Shown(error_shows(exc).text, ("TopSecretValue",))


@place("error/a-bad-proxy-url", {
    "unclosed-ipv6": "http://user:hunter2@[::1",
    "ftp": "ftp://token-hunter2:pw-hunter2@proxy.invalid",
})
def _(request: pytest.FixtureRequest, proxy_url: str) -> Shown:
    exc = refusal(lambda: Urllib3Transport(proxy_url=proxy_url), InvalidInputError)
    return Shown(error_shows(exc).text, ("hunter2",))


# === reprs: what the local servers recorded ===================================================


@place("repr/forwarded-requests-of-both-edges")
def _(request: pytest.FixtureRequest) -> Shown:
    stack: LocalStack = request.getfixturevalue("mediastore_stack")
    pool: urllib3.PoolManager = request.getfixturevalue("pool")
    stack.ingest_client().put("live/a.ts", b"segment")
    r = pool.request(
        "PUT",
        stack.sign_ingest_url("live/b.ts"),
        body=b"x",
        headers={"Authorization": "Bearer token-SECRET-1", "Cookie": "sid=cookie-SECRET-2"},
    )
    assert r.status == 403  # the container refuses that Authorization; it was forwarded
    stack.playback_client().get("live/a.ts")
    forwarded = stack.ingest_edge.forwarded
    playback = stack.playback_edge.forwarded
    assert [f.path for f in forwarded] == ["/live/a.ts", "/live/b.ts"]
    # The headers themselves are intact for tests that assert on them ...
    assert forwarded[0].header("User-Agent") == stack.secret.user_agent
    assert forwarded[1].header("Authorization") == "Bearer token-SECRET-1"
    assert forwarded[1].header("Cookie") == "sid=cookie-SECRET-2"
    assert playback[0].header("User-Agent") == stack.playback_secret.user_agent
    assert "ForwardedRequest(method='PUT', path='/live/a.ts'" in repr(forwarded[0])
    # ... but no repr shows the secrets: not the request's (what pytest prints for a
    # failed ``assert edge.forwarded == ...``), not its headers' (what pytest prints
    # when it drills down into two requests that differ), not a pretty-printed one.
    shown = [repr(forwarded), repr(playback), pprint.pformat(forwarded)]
    for forwarded_request in [*forwarded, *playback]:
        shown += [repr(forwarded_request), repr(forwarded_request.headers),
                  pprint.pformat(forwarded_request.headers)]
        shown += [repr(pair) for pair in forwarded_request.headers]
    return Shown("\n".join(shown), ("MediaStore-Secret", stack.secret.value,
                                    stack.playback_secret.value, "SECRET-1", "SECRET-2"))


@place("repr/an-origin-custom-header")
def _(request: pytest.FixtureRequest) -> Shown:
    pool: urllib3.PoolManager = request.getfixturevalue("pool")
    with LocalContainer(tls=False) as container, LocalEdge(
        container, require_signature=False, origin_headers={"X-Origin-Verify": "verify-SECRET-3"}
    ) as edge:
        pool.request("GET", edge.base_url + "/live/a.ts", headers={"X-Viewer": "shown"})
        (forwarded,) = edge.forwarded
    assert forwarded.header("X-Origin-Verify") == "verify-SECRET-3"
    assert "shown" in repr(forwarded.headers)  # other headers stay readable when debugging
    return Shown(repr(forwarded.headers), ("verify-SECRET-3",))


@place("repr/the-edge-request-log")
def _(request: pytest.FixtureRequest) -> Shown:
    stack: LocalStack = request.getfixturevalue("mediastore_stack")
    pool: urllib3.PoolManager = request.getfixturevalue("pool")
    url = stack.sign_ingest_url("live/a.ts")
    assert pool.request("PUT", url, body=b"a").status == 200
    logged = stack.ingest_edge.requests[-1]
    signature = url.split("Signature=")[1].split("&")[0]
    assert signature in logged.path  # the path itself is intact
    assert "Signature=<redacted>" in repr(logged)
    return Shown(repr(logged), (signature,))


# === log lines: DEBUG request lines ===========================================================


@place("log/the-edge-request-line")
def _(request: pytest.FixtureRequest) -> Shown:
    stack: LocalStack = request.getfixturevalue("mediastore_stack")
    pool: urllib3.PoolManager = request.getfixturevalue("pool")
    caplog: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    url = stack.sign_ingest_url("live/a.ts")
    signature = url.split("Signature=")[1].split("&")[0]
    with caplog.at_level(logging.DEBUG, logger="mediastore_ingest"):
        assert pool.request("PUT", url, body=b"x").status == 200
    lines = [r.getMessage() for r in caplog.records if "PUT /live/a.ts" in r.getMessage()]
    assert lines, "the edge logs its request line at DEBUG"
    assert any("Signature=<redacted>" in line for line in lines)
    assert any("Key-Pair-Id=" + stack.key_id in line for line in lines)  # not a secret
    return Shown("\n".join(lines), (signature,))


@place("log/the-origin-request-line", {
    "LocalContainer": (LocalContainer, "/live/a.ts"),
    "LocalBucket": (LocalBucket, "/live-origin/a.ts"),
})
def _(request: pytest.FixtureRequest,
      case: tuple[type[LocalContainer | LocalBucket], str]) -> Shown:
    origin_class, path = case
    pool: urllib3.PoolManager = request.getfixturevalue("pool")
    caplog: pytest.LogCaptureFixture = request.getfixturevalue("caplog")
    query = "X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=deadbeef0123&Signature=cafe4567"
    with origin_class(tls=False) as origin, caplog.at_level(
        logging.DEBUG, logger="mediastore_ingest"
    ):
        status = pool.request("GET", f"{origin.base_url}{path}?{query}").status
    assert status >= 400  # refused (unsigned, or presigned URLs unsupported): still logged
    lines = [r.getMessage() for r in caplog.records if f"GET {path}?" in r.getMessage()]
    assert lines, "the origin logs its request line at DEBUG"
    text = "\n".join(lines)
    assert "X-Amz-Signature=<redacted>" in text
    assert "X-Amz-Credential=AKIDEXAMPLE" in text  # an access key id is not a secret
    return Shown(text, ("deadbeef0123", "cafe4567"))


# === pytest's output for a user's failing test (the plugin) ===================================

USER_SECRET = "KnownIngestSecretForThisTest0123456789"


def _failing_user_tests(pytester: pytest.Pytester, tests: str) -> str:
    """Run the user's three failing ``tests`` with this package's plugin, the stack's
    ingest secret set in conftest.py (so no traceback's source listing shows it)."""
    pytester.makeconftest(
        f"""
        import pytest
        from mediastore_ingest.iam.secret import IngestSecret

        @pytest.fixture
        def mediastore_stack_options():
            return {{"secret": IngestSecret({USER_SECRET!r})}}
        """
    )
    pytester.makepyfile(test_user=tests)
    names = {e.name for e in importlib.metadata.entry_points(group="pytest11")}
    plugin = [] if "mediastore_ingest" in names else ["-p", "mediastore_ingest.testing.pytest_plugin"]
    result = pytester.runpytest_inprocess(*plugin, "-vv", "-p", "no:randomly")
    result.assert_outcomes(failed=3)
    return str(result.stdout.str())


@place("pytest-output/assertions-on-forwarded-requests")
def _(request: pytest.FixtureRequest) -> Shown:
    output = _failing_user_tests(request.getfixturevalue("pytester"), """
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
        """)
    assert "ForwardedRequest(method='PUT'" in output  # pytest did show the requests
    return Shown(output, (USER_SECRET,))


@place("pytest-output/assertions-on-recorded-requests")
def _(request: pytest.FixtureRequest) -> Shown:
    """The container's and bucket's request logs (RecordedRequest) hold what the edge
    forwarded, the ingest secret among it, and SigV4 Authorization headers."""
    output = _failing_user_tests(request.getfixturevalue("pytester"), """
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
        """)
    assert "RecordedRequest(method='PUT'" in output  # pytest did show the requests
    assert "Differing attributes" in output or "differ" in output.lower()
    # The SigV4 Authorization header's value (its source line above has no signature).
    assert re.search(r"Signature=[0-9a-f]{64}", output) is None
    return Shown(output, (USER_SECRET,))


@place("pytest-output/an-assertion-on-one-header-value")
def _(request: pytest.FixtureRequest) -> Shown:
    """``assert request.user_agent == ...`` compares the value itself: pytest's text
    diff would print it, so the plugin explains such a comparison without it."""
    output = _failing_user_tests(request.getfixturevalue("pytester"), """
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
        """)
    assert "'<redacted>' == 'x'" in output
    assert "may be a credential" in output
    return Shown(output, (USER_SECRET,))


# === the test =================================================================================


@pytest.mark.parametrize("name", list(PLACES))
def test_the_secret_is_never_shown(name: str, request: pytest.FixtureRequest) -> None:
    shown = PLACES[name](request)
    assert shown.secrets
    # Which of them showed, by position: a failure must not print the secret either.
    leaked = [i for i, secret in enumerate(shown.secrets) if secret in shown.text]
    assert leaked == []
