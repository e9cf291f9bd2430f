"""Every public entry point × a bad value → the typed error.

One table, by area of the package. Each row calls one entry point with one value it
must refuse and names the error it must raise: :class:`InvalidInputError`, or the error
of the entry point's family (``PolicyError``, ``ContainerPolicyError``,
``MalformedSignatureError``, ``LocalStackError`` for a broken store, ...), and where
the argument is worth naming, a pattern its message must contain. Whatever the row,
the error is a :class:`~mediastore_ingest.errors.MediaStoreIngestError` (never a bare
``TypeError``, ``ValueError``, ``RecursionError`` or ``UnicodeEncodeError``), and the
refusal comes before anything is made: the test runs in an empty working directory
with ``tempfile`` pointed at it, and that directory must still be empty afterwards
(no CA directory, no key file, no store).

A row is ``bad(id, call, error, match)``; ``call`` takes a :class:`Ctx` (files a row
needs, a CA, a key and its signer and verifier, the session's LocalStack). A row whose
refusal must also leave some state alone checks it in a ``finally``.
"""

from __future__ import annotations

import datetime
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    InvalidPathError,
    LocalStackError,
    MalformedSignatureError,
    MediaStoreIngestError,
    PolicyError,
    RelayError,
)
from mediastore_ingest.iam.document import (
    Condition,
    ContainerPolicy,
    Principal,
)
from mediastore_ingest.iam.evaluate import RequestContext, evaluate_container_policy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.ingest import (
    Headers,
    IngestClient,
    IngestConfig,
    MockTransport,
    ProgressLine,
    Request,
    Response,
    Urllib3Transport,
    guess_content_type,
    live_cache_control,
)
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.origins.s3 import BucketPolicy, BucketPolicyBuilder
from mediastore_ingest.provisioning import (
    IngestSetup,
    Provisioner,
    ProvisioningSpec,
    live_cors_rules,
    live_lifecycle_policy,
)
from mediastore_ingest.relay.relay import RelayConfig, SigningRelay
from mediastore_ingest.signing.keys import generate_key_pair, load_private_key
from mediastore_ingest.signing.policy import (
    CannedPolicy,
    CustomPolicy,
    normalize_url,
    wildcard_match,
)
from mediastore_ingest.signing.signer import UrlSigner
from mediastore_ingest.signing.verifier import SignedUrl, UrlVerifier
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
from tests._support.mock_transport import (
    BASE,
    UnreadableFile,
    mock_client,
    never_called,
)
from tests._support.policies import statement
from tests._support.provisioning import (
    PUBLIC_PEM,
    REGION,
    SECRET,
    mediastore_spec,
    setup_document,
)

KID = "KBADINPUT"
T = 1767225600
ACCOUNT = "111122223333"
ORIGIN = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Ctx:
    """What a row may use. ``files`` is where a row puts a file it passes in; ``scratch``
    is the working directory and ``tempfile``'s, and must stay empty."""

    files: Path
    scratch: Path
    ca: LocalCA
    key: ec.EllipticCurvePrivateKey
    stack: LocalStack
    signer: UrlSigner = field(init=False)
    verifier: UrlVerifier = field(init=False)
    key_group: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "signer", UrlSigner(KID, self.key, clock=lambda: T - 3600))
        object.__setattr__(self, "verifier", UrlVerifier({KID: self.key.public_key()}))
        object.__setattr__(self, "key_group", {"K2JCJMDEHXQW5F": self.key.public_key()})

    def file(self, name: str, data: bytes) -> Path:
        path = self.files / name
        path.write_bytes(data)
        return path


@dataclass(frozen=True)
class Case:
    call: Callable[[Ctx], object]
    error: type[Exception]
    match: str | None
    also: type[Exception] | None


CASES: dict[str, Case] = {}


def bad(
    case_id: str,
    call: Callable[[Ctx], object],
    error: type[Exception] = InvalidInputError,
    match: str | None = None,
    also: type[Exception] | None = None,
) -> None:
    """Register one row: ``call(ctx)`` raises ``error`` (and ``also``) matching ``match``."""
    assert case_id not in CASES, case_id
    CASES[case_id] = Case(call, error, match, also)


# === signing ==================================================================================

for i, value in enumerate(({}, ["x"], None, b"https://a/")):
    bad(f"signing/normalize_url-not-a-str-{i}", lambda c, v=value: normalize_url(v), PolicyError)

for i, (url, cookies) in enumerate([
    (["u"], "a=b"), ("https://d1.cloudfront.net/x", b"a=b"), ("https://d1.cloudfront.net/x", 5),
]):
    bad(f"signing/verify_cookies-types-{i}",
        lambda c, u=url, k=cookies: c.verifier.verify_cookies(u, k))


def _verify_from(client_ip: object) -> Callable[[Ctx], object]:
    def call(c: Ctx) -> object:
        policy = CustomPolicy("https://d1.cloudfront.net/*", T, source_ip="10.0.0.0/8")
        url = c.signer.sign_url("https://d1.cloudfront.net/x", policy=policy)
        return c.verifier.verify_url(url, now=T - 1, client_ip=client_ip)  # type: ignore[arg-type]

    return call


for client_ip in ("10.0.0.1:555", 16909060, "not-an-ip"):
    bad(f"signing/verify_url-client_ip-{client_ip}", _verify_from(client_ip))

for i, kwargs in enumerate(
    [{"path": None}, {"domain": "a.com\x0b"}, {"path": "/x, Secure="}, {"domain": "a b"}]
):
    bad(f"signing/set_cookie_headers-{i}", lambda c, kw=kwargs: c.signer.set_cookie_headers(
        CannedPolicy("https://d1.cloudfront.net/x", T), **kw))

for case_id, fields, error in [
    ("neither-expires-nor-policy", {}, MalformedSignatureError),
    ("both", {"expires": T, "policy": "e30_"}, MalformedSignatureError),
    ("hash-list", {"expires": T, "hash_algorithm": []}, InvalidInputError),
    ("hash-none", {"expires": T, "hash_algorithm": None}, InvalidInputError),
    ("expires-text", {"expires": "soon"}, MalformedSignatureError),
]:
    bad(f"signing/hand-made-SignedUrl-{case_id}", lambda c, f=fields: c.verifier.verify(
        SignedUrl("https://h/a", "c2ln", KID, **f), now=T - 10), error)

for value in (math.nan, math.inf, "now", None):
    bad(f"signing/verifier-clock-returns-{value}", lambda c, v=value: UrlVerifier(
        {KID: c.key.public_key()}, clock=lambda: v).verify_url(
        c.signer.sign_url("https://h/a", expires=T)), match="clock")
    bad(f"signing/signer-clock-returns-{value}", lambda c, v=value: UrlSigner(
        KID, c.key, clock=lambda: v).sign_url(
        "https://h/a", expires=datetime.timedelta(minutes=5)), match="clock")

for clock in (None, 5, "time"):
    bad(f"signing/UrlVerifier-clock-{clock}",
        lambda c, k=clock: UrlVerifier({KID: c.key.public_key()}, clock=k), match="clock")
    bad(f"signing/UrlSigner-clock-{clock}", lambda c, k=clock: UrlSigner(KID, c.key, clock=k),
        match="clock")

for i, (pattern, text) in enumerate([(None, "x"), ("a*", 5), (b"a*", "a")]):
    bad(f"signing/wildcard_match-types-{i}",
        lambda c, p=pattern, t=text: wildcard_match(p, t))  # type: ignore[arg-type]


# === iam and origins: container and bucket policies ===========================================


def _policy_json(sid: str = "S1", condition_value: str = "true") -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Sid":"' + sid + '","Effect":"Deny",'
        '"Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*",'
        '"Condition":{"Bool":{"aws:SecureTransport":"' + condition_value + '"}}}]}'
    )


for cls in (ContainerPolicy, BucketPolicy):
    for case_id, text in [
        ("escaped-sid", _policy_json(sid="\\ud800")),
        ("literal-sid", _policy_json(sid="\ud800")),
        ("condition-value", _policy_json(condition_value="a\\udfffb")),
        ("resource", _policy_json().replace("b/*", "b/\\udc80")),
    ]:
        bad(f"iam/{cls.__name__}.from_json-surrogate-{case_id}",
            lambda c, k=cls, t=text: k.from_json(t), ContainerPolicyError, "surrogate")

for case_id, build in {
    "sid": lambda: statement(sid="\ud800"),
    "resource": lambda: statement(resources=("arn:aws:s3:::b/\udc80",)),
    "principal": lambda: statement(principal=Principal(aws="arn:aws:iam::\ud800")),
    "condition-value": lambda: Condition("StringEquals", "aws:UserAgent", ("x\udfff",)),
    "condition-key": lambda: Condition("StringEquals", "aws:\ud800", ("x",)),
    "policy-id": lambda: ContainerPolicy(statements=[statement()], policy_id="\ud800"),
}.items():
    bad(f"iam/construction-surrogate-{case_id}", lambda c, b=build: b(), ContainerPolicyError,
        "surrogate")

bad("origins/BucketPolicyBuilder.add_statement-surrogate-sid",
    lambda c: BucketPolicyBuilder(bucket="live-bucket", account_id=ACCOUNT).add_statement(
        statement(sid="\ud800", effect="Deny")), ContainerPolicyError, "surrogate")

HUGE_INT = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*",'
    '"Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":' + "9" * 5000 + "}}}}"
)
for case_id, text in [("5000-digits", HUGE_INT), ("deep-array", "[" * 100_000),
                      ("deep-object", "{\"a\":" * 100_000)]:
    for cls in (ContainerPolicy, BucketPolicy):
        bad(f"iam/{cls.__name__}.from_json-{case_id}",
            lambda c, k=cls, t=text: k.from_json(t), ContainerPolicyError)
        bad(f"iam/{cls.__name__}.from_json-bytes-{case_id}",
            lambda c, k=cls, t=text: k.from_json(t.encode()), ContainerPolicyError)
    bad(f"iam/evaluate_container_policy-{case_id}", lambda c, t=text: evaluate_container_policy(
        t, RequestContext(action="s3:GetObject", resource="arn:aws:s3:::b/x")),
        ContainerPolicyError)


# === provisioning =============================================================================

for case_id, text in [("deep", "[" * 100_000), ("none", None), ("int", 5),
                      ("origin-gcs", setup_document(origin="gcs"))]:
    bad(f"provisioning/IngestSetup.from_json-{case_id}", lambda c, t=text: IngestSetup.from_json(t))

for spec_field in ("container_policy", "lifecycle_policy"):
    bad(f"provisioning/ProvisioningSpec-{spec_field}-nesting", lambda c, f=spec_field:
        mediastore_spec(playback=False, **{f: "[" * 5000}), MediaStoreIngestError, also=ValueError)


# === wrong types across the policy, provisioning and key entry points =========================

BUILDER = ContainerPolicyBuilder(region=REGION, account_id=ACCOUNT, container="live")
BUCKET_BUILDER = BucketPolicyBuilder(bucket="live-bucket", account_id=ACCOUNT)
POLICY = ContainerPolicy(statements=[statement()])
BUCKET_POLICY = BUCKET_BUILDER.deny_insecure_transport().build()

WRONG_TYPES: dict[str, Callable[[], object]] = {
    "iam/principal-aws-none": lambda: Principal(aws=None),  # type: ignore[arg-type]
    "iam/condition-int-value": lambda: Condition("StringEquals", "k", 5),  # type: ignore[arg-type]
    "iam/statement-actions-none": lambda: statement(actions=None),
    "iam/statement-conditions-none": lambda: statement(conditions=None),
    "iam/statement-effect-maybe": lambda: statement(effect="Maybe"),
    "iam/policy-statements-none": lambda: ContainerPolicy(statements=None),  # type: ignore[arg-type]
    "iam/policy-statements-int": lambda: ContainerPolicy(statements=5),  # type: ignore[arg-type]
    "iam/findings-known-str": lambda: POLICY.findings(known_secrets=["x"]),  # type: ignore[list-item]
    "iam/findings-known-int": lambda: POLICY.findings(known_secrets=5),  # type: ignore[arg-type]
    "iam/to-json-indent-list": lambda: POLICY.to_json(indent=[]),  # type: ignore[arg-type]
    "iam/ingest-source-ips-int": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, source_ips=5),  # type: ignore[arg-type]
    "iam/ingest-actions-int": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, actions=5),  # type: ignore[arg-type]
    "iam/ingest-actions-none": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, actions=None),  # type: ignore[arg-type]
    "iam/read-actions-int": lambda: BUILDER.allow_cloudfront_read(
        SECRET, actions=5),  # type: ignore[arg-type]
    "iam/builder-statements-int": lambda: ContainerPolicyBuilder(
        region=REGION, account_id=ACCOUNT, container="live", statements=5),  # type: ignore[arg-type]
    "iam/builder-statements-dicts": lambda: ContainerPolicyBuilder(
        region=REGION, account_id=ACCOUNT, container="live", statements=[{}]),  # type: ignore[list-item]
    "iam/secret-rng-int": lambda: IngestSecret.generate(rng=lambda s: 5),  # type: ignore[arg-type,return-value]
    "iam/secret-rng-not-callable": lambda: IngestSecret.generate(rng=5),  # type: ignore[arg-type]
    "origins/bucket-builder-statements-int": lambda: BucketPolicyBuilder(
        bucket="live-bucket", account_id=ACCOUNT, statements=5),  # type: ignore[arg-type]
    "origins/bucket-builder-playback-int": lambda: BucketPolicyBuilder(
        bucket="live-bucket", account_id=ACCOUNT, playback_distributions=5),  # type: ignore[arg-type]
    "origins/bucket-ingest-actions-none": lambda: BUCKET_BUILDER.allow_cloudfront_ingest(
        "E2EXAMPLE", actions=None),  # type: ignore[arg-type]
    "origins/bucket-ingest-actions-int": lambda: BUCKET_BUILDER.allow_cloudfront_ingest(
        "E2EXAMPLE", actions=5),  # type: ignore[arg-type]
    "origins/bucket-findings-playback-int": lambda: BUCKET_POLICY.findings(
        playback_distributions=5),  # type: ignore[arg-type]
    "origins/bucket-findings-playback-nested": lambda: BUCKET_POLICY.findings(
        playback_distributions=[[1]]),  # type: ignore[list-item]
    "origins/bucket-to-json-indent-list": lambda: BUCKET_POLICY.to_json(indent=[]),  # type: ignore[arg-type]
    "provisioning/spec-origin-gcs": lambda: ProvisioningSpec(
        public_key_pem=PUBLIC_PEM, origin="gcs", bucket_name="live-bucket"),  # type: ignore[arg-type]
    "provisioning/spec-container-tags-int": lambda: mediastore_spec(
        playback=False, container_tags=5),
    "provisioning/spec-container-tags-values": lambda: mediastore_spec(
        playback=False, container_tags={"team": 5}),
    "provisioning/lifecycle-wildcards-int": lambda: live_lifecycle_policy(wildcards=5),  # type: ignore[arg-type]
    "provisioning/cors-origins-int": lambda: live_cors_rules(5),  # type: ignore[arg-type]
    "provisioning/cors-max-age-str": lambda: live_cors_rules(max_age_seconds="soon"),  # type: ignore[arg-type]
    "provisioning/provisioner-endpoint-int": lambda: Provisioner(region=REGION, endpoint_url=5),  # type: ignore[arg-type]
    "provisioning/provisioner-endpoint-map-int": lambda: Provisioner(
        region=REGION, endpoint_url={"mediastore": 5}),  # type: ignore[dict-item]
    "provisioning/provisioner-endpoint-not-a-url": lambda: Provisioner(
        region=REGION, endpoint_url="notaurl").plan(mediastore_spec()),
    "provisioning/provisioner-sleep-none": lambda: Provisioner(region=REGION, sleep=None),  # type: ignore[arg-type]
    "provisioning/provisioner-poll-interval-str": lambda: Provisioner(
        region=REGION, poll_interval="5"),  # type: ignore[arg-type]
    "signing/keys-password-int": lambda: generate_key_pair(
        "/nonexistent-dir/k.pem", password=5, algorithm="ecdsa"),  # type: ignore[arg-type]
    "signing/keys-password-surrogate": lambda: generate_key_pair(
        "/nonexistent-dir/k.pem", password="\ud800", algorithm="ecdsa"),
    "signing/keys-path-int": lambda: generate_key_pair(5, algorithm="ecdsa"),  # type: ignore[arg-type]
    "signing/keys-public-path-int": lambda: generate_key_pair(
        None, 5.0, algorithm="ecdsa"),  # type: ignore[arg-type]
    "signing/keys-path-nul": lambda: generate_key_pair("a\0b", algorithm="ecdsa"),
    "signing/keys-path-surrogate": lambda: generate_key_pair("a\ud800b", algorithm="ecdsa"),
    "signing/keys-load-password-surrogate": lambda: load_private_key(b"x", password="\ud800"),
}
for case_id, call in WRONG_TYPES.items():
    bad(f"{case_id}", lambda c, f=call: f(), MediaStoreIngestError)


# === ingest: the client, its config, transports, bodies and helpers ===========================


def _client(**kwargs: Any) -> IngestClient:
    """A client that must not send anything."""
    return mock_client(MockTransport(never_called), **kwargs)


bad("ingest/put-s3-streamed-str-chunks", lambda c: _client(
    config=IngestConfig(origin="s3")).put("a.ts", iter(["abc"])), match="bytes")
bad("ingest/put-unreadable-file-object",
    lambda c: _client().put("live/a.ts", UnreadableFile(fail_after=0)), match="Input/output error")
for name in ("foo\0bar", "seg\ud800.ts"):
    bad(f"ingest/put-unusable-file-path-{name!r}", lambda c, n=name: _client().put("live/a.ts", Path(n)),
        match="body file")


class _BadFspath:
    def __fspath__(self) -> Any:
        return 5


bad("ingest/put-pathlike-with-a-bad-fspath", lambda c: _client().put("live/a.ts", _BadFspath()))

bad("ingest/ca_bundle-missing", lambda c: IngestClient(
    BASE, config=IngestConfig(ca_bundle=str(c.files / "nonexistent.pem"))), match="ca_bundle")
bad("ingest/ca_bundle-not-a-certificate", lambda c: IngestClient(
    BASE, config=IngestConfig(ca_bundle=str(c.file("junk.pem", b"not a certificate\n")))),
    match="ca_bundle")
bad("ingest/ca_bundle-int", lambda c: IngestConfig(ca_bundle=5), match="ca_bundle")  # type: ignore[arg-type]

for proxy in ("ftp://x", "http://[::1"):
    bad(f"ingest/proxy_url-{proxy}", lambda c, p=proxy: IngestClient(
        BASE, config=IngestConfig(proxy_url=p)), match="proxy")

for i, kwargs in enumerate((
    {"connect_timeout": -1},
    {"read_timeout": math.inf},
    {"connect_timeout": "5"},
    {"max_pool_connections": 0},
)):
    bad(f"ingest/Urllib3Transport-{i}", lambda c, kw=kwargs: Urllib3Transport(**kw))  # type: ignore[arg-type]

for config_field in ("connect_timeout", "read_timeout", "policy_renew_margin"):
    for value in (math.inf, -math.inf, math.nan):
        bad(f"ingest/IngestConfig-{config_field}-{value}",
            lambda c, f=config_field, v=value: IngestConfig(**{f: v}), match=config_field)  # type: ignore[arg-type]

bad("ingest/direct-endpoint-not-a-url",
    lambda c: IngestClient.direct("notaurl", region_name="us-west-2"), match="notaurl")
bad("ingest/direct-region-with-a-space",
    lambda c: IngestClient.direct("https://127.0.0.1:9", region_name="us west"), match="us west")

bad("ingest/IngestClient-subscribers-int", lambda c: IngestClient(
    BASE, transport=MockTransport(never_called), subscribers=5), match="subscribers")  # type: ignore[arg-type]
bad("ingest/put_many-int", lambda c: _client().put_many(5), match="items")  # type: ignore[arg-type]
bad("ingest/put_many-str", lambda c: _client().put_many("live/a.ts"), match="items")  # type: ignore[arg-type]
bad("ingest/put_many-subscribers-int",
    lambda c: _client().put_many([], subscribers=5), match="subscribers")  # type: ignore[arg-type]
bad("ingest/list-none", lambda c: _client().list(None), InvalidPathError)  # type: ignore[arg-type]

for i, pairs in enumerate((5, [1], ["ab"], [("a", "b", "c")], "ab")):
    bad(f"ingest/Headers-{i}", lambda c, p=pairs: Headers(p), match="headers")  # type: ignore[arg-type]
bad("ingest/Request-headers", lambda c: Request("GET", "u", headers=[1]), match="headers")  # type: ignore[arg-type]
bad("ingest/Response-headers", lambda c: Response(200, 5), match="headers")  # type: ignore[arg-type]

bad("ingest/guess_content_type-none", lambda c: guess_content_type(None))  # type: ignore[arg-type]
bad("ingest/live_cache_control-none", lambda c: live_cache_control(None))  # type: ignore[arg-type]
bad("ingest/live_cache_control-segment-int",
    lambda c: live_cache_control("a.ts", segment=5))  # type: ignore[arg-type]

bad("ingest/ProgressLine-clock-none", lambda c: ProgressLine(clock=None), match="clock")  # type: ignore[arg-type]
bad("ingest/ProgressLine-interval-nan", lambda c: ProgressLine(interval=math.nan), match="interval")
bad("ingest/ProgressLine-stream-int", lambda c: ProgressLine(5), match="stream")  # type: ignore[arg-type]

for i, kwargs in enumerate((
    {"retry": 5},
    {"verify": "no"},
    {"proxy_url": 5},
    {"cache_control": "max-age=1"},
    {"content_sha256": 1},
)):
    bad(f"ingest/IngestConfig-field-types-{i}", lambda c, kw=kwargs: IngestConfig(**kw))  # type: ignore[arg-type]

# Refused when the client is made, not at its first request: now (2026) plus 20 years is
# past 2038.
for case_id, expiry in (("huge", 99_999_999_999_999_999), ("20y", datetime.timedelta(days=365 * 20))):
    bad(f"ingest/url_expiry-{case_id}", lambda c, e=expiry: IngestClient(
        BASE, transport=MockTransport(never_called), url_expiry=e,
        clock=lambda: 1_795_000_000.0), match="url_expiry")


# === relay ====================================================================================

for i, kwargs in enumerate((
    {"allowed_peers": 5},
    {"allowed_peers": None},
    {"content_types": 5},
    {"cache_control": None},
    {"cache_control": 5},
    {"host": 5},
    {"journal_dir": 5},
    {"journal_dir": "a\0b"},
)):
    bad(f"relay/RelayConfig-{i}", lambda c, kw=kwargs: RelayConfig(**kw))  # type: ignore[arg-type]
bad("relay/content_type_for-none", lambda c: RelayConfig().content_type_for(None))  # type: ignore[arg-type]
bad("relay/cache_control_for-none", lambda c: RelayConfig().cache_control_for(None))  # type: ignore[arg-type]
bad("relay/object_path-none", lambda c: RelayConfig().object_path(None))  # type: ignore[arg-type]


def _relay_journaling_to(below: bool) -> Callable[[Ctx], object]:
    def call(c: Ctx) -> object:
        regular = c.file("regular", b"x")
        journal = regular / "below" if below else regular
        client = IngestClient("http://127.0.0.1:9", transport=MockTransport(never_called))
        relay = SigningRelay(client=client, config=RelayConfig(journal_dir=str(journal)))
        try:
            return relay.start()  # the journal directory is checked when the relay starts
        finally:
            relay.close()

    return call


bad("relay/journal-dir-is-a-file", _relay_journaling_to(below=False), RelayError,
    match="journal directory")
bad("relay/journal-dir-below-a-file", _relay_journaling_to(below=True), RelayError,
    match="journal directory")


# === testing: LocalCA =========================================================================

for kwargs, match in [
    ({"validity": 5}, "validity"),
    ({"validity": datetime.timedelta(0)}, "validity"),
    ({"common_name": ""}, "common_name"),
    ({"common_name": 5}, "common_name"),
    ({"common_name": "x" * 65}, "common_name"),
    ({"common_name": "\ud800"}, "common_name"),
    ({"now": 5}, "now"),
    ({"directory": 5}, "directory"),
]:
    bad(f"testing/LocalCA-{match}-{next(iter(kwargs.values()))!r}",
        lambda c, kw=kwargs: LocalCA(**kw), match=match)
bad("testing/LocalCA-directory-is-a-file",
    lambda c: LocalCA(directory=c.file("not-a-dir", b"x")), match="not-a-dir")
bad("testing/LocalCA-now-not-an-aware-datetime",
    lambda c: LocalCA(now=lambda: 5), match="now")  # type: ignore[arg-type, return-value]

for case_id, hosts in {
    "empty": [""], "surrogate": ["\ud800"], "space": ["bad host"], "non-ascii": ["é.example"],
    "int": [5], "bare-str": "localhost", "none": None, "five": 5, "long": ["h" * 65],
}.items():
    bad(f"testing/issue_server_certificate-{case_id}",
        lambda c, h=hosts: c.ca.issue_server_certificate(h), match="host")
    bad(f"testing/server_context-{case_id}", lambda c, h=hosts: c.ca.server_context(h),
        match="host")


# === testing: FaultPlan, FaultSchedule ========================================================

for kwargs, match in [
    ({"kinds": 5}, "kinds"),
    ({"kinds": None}, "kinds"),
    ({"seed": [1]}, "seed"),
    ({"seed": object()}, "seed"),
]:
    bad(f"testing/FaultPlan-{match}-{type(next(iter(kwargs.values()))).__name__}",
        lambda c, kw=kwargs: FaultPlan(**kw), match=match)
for count in ("3", 1.5, None, True, -1):
    bad(f"testing/FaultPlan.preview-{count!r}",
        lambda c, n=count: FaultPlan(seed=3).preview(n), match="count")
bad("testing/FaultSchedule-not-a-plan", lambda c: FaultSchedule(5), match="FaultPlan")  # type: ignore[arg-type]


# === testing: LocalEdge =======================================================================

for kwargs, match in [
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
]:
    for tls in (False, True):
        (name, value), = kwargs.items()
        bad(f"testing/LocalEdge-{name}-{value!r}-tls-{tls}",
            lambda c, kw=kwargs, t=tls: LocalEdge(ORIGIN, tls=t, **({"key_group": c.key_group} | kw)),
            match=match)
for origin in (5, None, b"http://127.0.0.1:9"):
    bad(f"testing/LocalEdge-origin-{origin!r}",
        lambda c, o=origin: LocalEdge(o, key_group=c.key_group, tls=True), match="origin")
bad("testing/LocalEdge-origin-is-a-LocalBucket", lambda c: LocalEdge(
    LocalBucket(tls=False), key_group=c.key_group), match="origin_url")  # type: ignore[arg-type]


def _start_edge_for(origin: str) -> Callable[[Ctx], object]:
    def call(c: Ctx) -> object:
        edge = LocalEdge(origin, key_group=c.key_group)
        try:
            return edge.start()
        finally:
            assert not edge.running

    return call


for origin in ("http://[::1", "http://127.0.0.1:notaport", "http://127.0.0.1:99999", "ftp://x"):
    bad(f"testing/LocalEdge.start-origin-{origin}", _start_edge_for(origin), match="origin")


# === testing: LocalContainer, LocalBucket, LocalCredential, StoredObject ======================

for origin_class in (LocalContainer, LocalBucket):
    for kwargs, match in [
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
    ]:
        (name, value), = kwargs.items()
        bad(f"testing/{origin_class.__name__}-{name}-{value!r}",
            lambda c, k=origin_class, kw=kwargs: k(**kw), match=match)
bad("testing/LocalContainer-max_streaming_object_size-str", lambda c: LocalContainer(
    max_streaming_object_size="5"), match="max_streaming_object_size")  # type: ignore[arg-type]

for kwargs, match in [
    ({"secret_key": 5}, "secret_key"),
    ({"secret_key": ""}, "secret_key"),
    ({"secret_key": "s", "principal": 5}, "principal"),
    ({"secret_key": "s", "source_arn": 5}, "source_arn"),
    ({"secret_key": "s", "source_account": 5}, "source_account"),
]:
    bad(f"testing/LocalCredential-{match}-{kwargs[match]!r}",
        lambda c, kw=kwargs: LocalCredential(**kw), match=match)


def _add_credential_with_a_bad_secret(c: Ctx) -> object:
    bucket = LocalBucket(tls=False)
    try:
        return bucket.add_credential("AKIDNEW", 5)  # type: ignore[arg-type]
    finally:
        assert "AKIDNEW" not in bucket.credentials


bad("testing/LocalBucket.add_credential-secret-int", _add_credential_with_a_bad_secret,
    match="credential")


def _write_to(origin_class: type[LocalContainer | LocalBucket], data: Any = b"x",
              **kwargs: Any) -> Callable[[Ctx], object]:
    def call(c: Ctx) -> object:
        origin = origin_class(tls=False)
        try:
            return origin.write("live/a.ts", data, **kwargs)
        finally:
            assert origin.paths() == []

    return call


for origin_class in (LocalContainer, LocalBucket):
    for data in (None, 5, "abc", [1, 2]):
        bad(f"testing/{origin_class.__name__}.write-data-{data!r}",
            _write_to(origin_class, data), match="data")
    bad(f"testing/{origin_class.__name__}.write-cache_control-int",
        _write_to(origin_class, cache_control=5), match="cache_control")
    bad(f"testing/{origin_class.__name__}.write-cache_control-crlf",
        _write_to(origin_class, cache_control="a\r\nX-Injected: 1"), match="cache_control")
bad("testing/LocalBucket.write-content_type-int", _write_to(LocalBucket, content_type=5),
    match="content_type")


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


def _open_store_with(origin_class: type[LocalContainer | LocalBucket],
                     content: bytes) -> Callable[[Ctx], object]:
    def call(c: Ctx) -> object:
        store = c.files / "store"
        store.mkdir()
        (store / "0123abcd.obj").write_bytes(content + b"payload")
        return origin_class(storage_dir=store, tls=False)

    return call


for origin_class in (LocalContainer, LocalBucket):
    for case_id, content in CORRUPT_ENTRIES.items():
        bad(f"testing/{origin_class.__name__}-corrupt-store-entry-{case_id}",
            _open_store_with(origin_class, content), LocalStackError, r"0123abcd\.obj")

for i, document in enumerate([5, None, [1], _good_meta() | {"size": "big"}]):
    bad(f"testing/StoredObject.from_json-{i}", lambda c, d=document: StoredObject.from_json(d),
        match="metadata")

for origin_class in (LocalContainer, LocalBucket):
    for case_id, read, match in [
        ("read-list", lambda o: o.read([]), "path"),
        ("read-none", lambda o: o.read(None), "path"),
        ("describe-list", lambda o: o.describe([]), "path"),
    ]:
        bad(f"testing/{origin_class.__name__}.{case_id}",
            lambda c, k=origin_class, r=read: r(k(tls=False)), match=match)

for kwargs, match in [
    ({"path": None}, "path"),
    ({"path": "live/a.ts", "min_bytes": "1"}, "min_bytes"),
    ({"path": "live/a.ts", "timeout": "x"}, "timeout"),
    ({"path": "live/a.ts", "timeout": -1}, "timeout"),
]:
    bad(f"testing/wait_for_streaming_upload-{match}-{kwargs[match]!r}", lambda c, kw=kwargs:
        LocalContainer(tls=False).wait_for_streaming_upload(**kw), match=match)


# === testing: OriginAccessControl, LocalStack =================================================

for i, (args, match) in enumerate([
    (("GET", "notaurl", []), "url"),
    (("GET", "ftp://host/a", []), "url"),
    (("GET", None, []), "url"),
    (("GET", "https://h/a", None), "viewer_headers"),
    (("GET", "https://h/a", [("x-amz-content-sha256",)]), "viewer_headers"),
    (("GET", "https://h/a", [(5, "v")]), "viewer_headers"),
    (("GET", "https://h/a", "x-amz-content-sha256"), "viewer_headers"),
    ((5, "https://h/a", []), "method"),
    (("", "https://h/a", []), "method"),
]):
    bad(f"testing/OriginAccessControl.signed_headers-{match}-{i}", lambda c, a=args:
        OriginAccessControl("AKIDOAC", "oac-secret-value").signed_headers(*a), match=match)

for kwargs, match in [
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
]:
    bad(f"testing/LocalStack-{'-'.join(kwargs)}-{list(kwargs.values())[-1]!r}",
        lambda c, kw=kwargs: LocalStack(**kw), match=match)

for case_id, call in {
    "ingest_url-none": lambda s: s.ingest_url(None),
    "playback_url-int": lambda s: s.playback_url(5),
    "sign_ingest_url-none": lambda s: s.sign_ingest_url(None),
    "sign_playback_url-bytes": lambda s: s.sign_playback_url(b"live/a.ts"),
}.items():
    bad(f"testing/LocalStack.{case_id}", lambda c, f=call: f(c.stack), match="path")


# === the test =================================================================================


@pytest.fixture
def ctx(
    tmp_path: Path,
    ca: LocalCA,
    ec_key: ec.EllipticCurvePrivateKey,
    mediastore_stack_session: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
) -> Ctx:
    """The row's context; the working directory and ``tempfile`` point at ``scratch``."""
    files, scratch = tmp_path / "files", tmp_path / "scratch"
    files.mkdir()
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(scratch)
    return Ctx(files, scratch, ca, ec_key, mediastore_stack_session)


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input_is_a_typed_error(case_id: str, ctx: Ctx) -> None:
    case = CASES[case_id]
    with pytest.raises(case.error, match=case.match) as info:
        case.call(ctx)
    assert isinstance(info.value, MediaStoreIngestError)
    if case.also is not None:
        assert isinstance(info.value, case.also)
    assert list(ctx.scratch.iterdir()) == [], "a refused call left something behind"
