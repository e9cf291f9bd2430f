"""Container policy builder, JSON parse/serialise, lint findings and IngestSecret."""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import random
import string
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediastore_ingest.cli import _container_policy as cli
from mediastore_ingest.errors import ContainerPolicyError, InvalidInputError
from mediastore_ingest.iam.document import (
    MAX_POLICY_LENGTH,
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
)
from mediastore_ingest.iam.secret import (
    USER_AGENT_PREFIX,
    IngestSecret,
)
from mediastore_ingest.origins.mediastore import (
    ContainerPolicyBuilder,
    container_arn,
    mediastore_object_arn,
)

ACCOUNT = "111122223333"
RESOURCE = "arn:aws:mediastore:us-west-2:111122223333:container/live/*"
SECRET = IngestSecret("Ab3" + "x" * 37)
PLAYBACK = IngestSecret("Pl4" + "y" * 37)
DIST_ARN = "arn:aws:cloudfront::111122223333:distribution/E2EXAMPLE1"
HTTPS = '"Condition":{"Bool":{"aws:SecureTransport":"true"}}'


def builder() -> ContainerPolicyBuilder:
    return ContainerPolicyBuilder(region="us-west-2", account_id=ACCOUNT, container="live")


def only_statement(b: ContainerPolicyBuilder) -> str:
    """The compact JSON of the single statement the builder holds."""
    text = b.build().to_json()
    prefix = '{"Version":"2012-10-17","Statement":['
    assert text.startswith(prefix)
    assert text.endswith("]}")
    return text[len(prefix) : -2]


def codes(policy: ContainerPolicy, **kwargs: object) -> list[str]:
    return [f.code for f in policy.findings(**kwargs)]  # type: ignore[arg-type]


def parse(statement: dict[str, object]) -> ContainerPolicy:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return ContainerPolicy.from_json(json.dumps(document))


# --- IngestSecret -----------------------------------------------------------------------


def test_secret_user_agent_has_the_prefix() -> None:
    assert SECRET.user_agent == "MediaStore-Secret-" + SECRET.value
    assert USER_AGENT_PREFIX == "MediaStore-Secret-"


def test_generate_default_length_alphabet_and_rng() -> None:
    secret = IngestSecret.generate()
    assert len(secret.value) == 40
    assert secret.value.isascii()
    assert secret.value.isalnum()
    rng = random.Random(7)
    a = IngestSecret.generate(24, rng=rng.choice)
    b = IngestSecret.generate(24, rng=random.Random(7).choice)
    assert a == b
    assert len(a.value) == 24


@pytest.mark.parametrize("length", [19, 0, -1, True, 20.0, "40"])
def test_generate_refuses_bad_length(length: object) -> None:
    with pytest.raises(InvalidInputError):
        IngestSecret.generate(length)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["a" * 19, "a" * 19 + "-", "é" * 25, "a b" * 10, "a" * 30 + "\n", 12345678901234567890]
)
def test_secret_validation(value: object) -> None:
    with pytest.raises(InvalidInputError) as info:
        IngestSecret(value)  # type: ignore[arg-type]
    if isinstance(value, str):
        assert value not in str(info.value)


def test_secret_is_hidden_from_repr_and_str() -> None:
    assert SECRET.value not in repr(SECRET)
    assert SECRET.value not in str(SECRET)
    assert SECRET.value not in repr(builder())  # the builder holds no secret yet


def test_secret_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        SECRET.value = "z" * 40  # type: ignore[misc]


# --- builder: one test per statement kind, exact JSON -----------------------------------


def test_account_full_access_json() -> None:
    assert only_statement(builder().allow_account_full_access()) == (
        '{"Sid":"MediaStoreFullAccess","Effect":"Allow",'
        '"Principal":{"AWS":"arn:aws:iam::111122223333:root"},'
        f'"Action":"mediastore:*","Resource":"{RESOURCE}",{HTTPS}}}'
    )


def test_public_read_over_https_json() -> None:
    assert only_statement(builder().allow_public_read_over_https()) == (
        '{"Sid":"PublicReadOverHttps","Effect":"Allow","Principal":"*",'
        '"Action":["mediastore:GetObject","mediastore:DescribeObject"],'
        f'"Resource":"{RESOURCE}",{HTTPS}}}'
    )


def test_cloudfront_ingest_json() -> None:
    assert only_statement(builder().allow_cloudfront_ingest(SECRET)) == (
        '{"Sid":"CloudFrontIngest","Effect":"Allow","Principal":"*",'
        f'"Action":"mediastore:PutObject","Resource":"{RESOURCE}",'
        '"Condition":{"StringEquals":{"aws:UserAgent":"MediaStore-Secret-' + SECRET.value + '"},'
        '"Bool":{"aws:SecureTransport":"true"}}}'
    )


def test_cloudfront_ingest_with_source_ips_and_actions_json() -> None:
    b = builder().allow_cloudfront_ingest(
        SECRET,
        source_ips=["192.0.2.0/24", "198.51.100.7", "2001:db8::/32"],
        actions=("mediastore:PutObject", "mediastore:DeleteObject"),
    )
    assert only_statement(b) == (
        '{"Sid":"CloudFrontIngest","Effect":"Allow","Principal":"*",'
        '"Action":["mediastore:PutObject","mediastore:DeleteObject"],'
        f'"Resource":"{RESOURCE}",'
        '"Condition":{"StringEquals":{"aws:UserAgent":"' + SECRET.user_agent + '"},'
        '"Bool":{"aws:SecureTransport":"true"},'
        '"IpAddress":{"aws:SourceIp":["192.0.2.0/24","198.51.100.7/32","2001:db8::/32"]}}}'
    )


def test_cloudfront_read_json() -> None:
    assert only_statement(builder().allow_cloudfront_read(PLAYBACK)) == (
        '{"Sid":"CloudFrontPlayback","Effect":"Allow","Principal":"*",'
        '"Action":["mediastore:GetObject","mediastore:DescribeObject"],'
        f'"Resource":"{RESOURCE}",'
        '"Condition":{"StringEquals":{"aws:UserAgent":"' + PLAYBACK.user_agent + '"},'
        '"Bool":{"aws:SecureTransport":"true"}}}'
    )


def test_cloudfront_oac_json() -> None:
    assert only_statement(builder().allow_cloudfront_oac(DIST_ARN)) == (
        '{"Sid":"CloudFrontOriginAccessControl","Effect":"Allow",'
        '"Principal":{"Service":"cloudfront.amazonaws.com"},'
        '"Action":["mediastore:GetObject","mediastore:DescribeObject"],'
        f'"Resource":"{RESOURCE}",'
        f'"Condition":{{"StringEquals":{{"AWS:SourceArn":"{DIST_ARN}"}},'
        '"Bool":{"aws:SecureTransport":"true"}}}'
    )


def test_seed_policy_pretty_and_compact() -> None:
    policy = (
        builder()
        .allow_account_full_access()
        .allow_public_read_over_https()
        .allow_cloudfront_ingest(SECRET)
        .build()
    )
    compact = policy.to_json()
    assert " " not in compact
    assert "\n" not in compact
    pretty = policy.to_json(indent=2)
    assert pretty.startswith('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n')
    assert json.loads(pretty) == json.loads(compact)
    assert [s.sid for s in policy.statements] == [
        "MediaStoreFullAccess",
        "PublicReadOverHttps",
        "CloudFrontIngest",
    ]
    assert policy.findings() == ()


def test_builder_is_immutable() -> None:
    base = builder()
    with_read = base.allow_public_read_over_https()
    assert base.statements == ()
    assert len(with_read.statements) == 1
    assert with_read is not base
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        base.region = "eu-west-1"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("region", "uswest2"),
        ("region", "US-WEST-2"),
        ("account_id", "11112222333"),
        ("account_id", "1111222233334"),
        ("container", "bad name"),
        ("container", ""),
        ("container", "x" * 256),
        ("container", "café"),
    ],
)
def test_builder_validates_its_fields(field: str, value: str) -> None:
    kwargs = {"region": "us-west-2", "account_id": ACCOUNT, "container": "live", field: value}
    with pytest.raises(InvalidInputError):
        ContainerPolicyBuilder(**kwargs)


def test_builder_accepts_edge_names() -> None:
    b = ContainerPolicyBuilder(region="ap-southeast-2", account_id=ACCOUNT, container="A_b-" * 60)
    assert b.resource.startswith("arn:aws:mediastore:ap-southeast-2:")
    gov = ContainerPolicyBuilder(region="us-gov-west-1", account_id=ACCOUNT, container="c")
    assert gov.resource == "arn:aws-us-gov:mediastore:us-gov-west-1:111122223333:container/c/*"


def test_builder_refusals() -> None:
    with pytest.raises(ContainerPolicyError, match="no statement"):
        builder().build()
    with pytest.raises(ContainerPolicyError, match="more than once"):
        builder().allow_public_read_over_https().allow_public_read_over_https()
    with pytest.raises(ContainerPolicyError, match="same aws:UserAgent secret") as info:
        builder().allow_cloudfront_ingest(SECRET).allow_cloudfront_read(SECRET)
    assert SECRET.value not in str(info.value)
    with pytest.raises(InvalidInputError):
        builder().allow_cloudfront_ingest(SECRET.value)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="host bits"):
        builder().allow_cloudfront_ingest(SECRET, source_ips=["192.0.2.1/24"])
    with pytest.raises(InvalidInputError):
        builder().allow_cloudfront_ingest(SECRET, source_ips=[])
    with pytest.raises(InvalidInputError):
        builder().allow_cloudfront_ingest(SECRET, actions=())
    with pytest.raises(InvalidInputError):
        builder().allow_cloudfront_ingest(SECRET, actions=("PutObject",))
    with pytest.raises(InvalidInputError):
        builder().allow_cloudfront_oac("arn:aws:s3:::bucket")


def test_builder_allows_secret_rotation_with_distinct_sids() -> None:
    new = IngestSecret("N" * 40)
    policy = (
        builder()
        .allow_cloudfront_ingest(SECRET)
        .allow_cloudfront_ingest(new, sid="CloudFrontIngestNext")
        .build()
    )
    assert len(policy.statements) == 2
    assert policy.findings() == ()


def test_builder_refuses_a_public_write_statement() -> None:
    wide_open = Statement(
        effect="Allow", principal=Principal.anyone(), actions=("mediastore:PutObject",),
        resources=(RESOURCE,), conditions=(Condition("Bool", "aws:SecureTransport", "true"),),
    )
    with pytest.raises(ContainerPolicyError, match="lets anyone write"):
        builder().add_statement(wide_open)


def test_build_refuses_oversized_policy() -> None:
    b = builder()
    for i in range(40):
        b = b.allow_cloudfront_read(IngestSecret(f"{i:02d}" + "R" * 200), sid=f"Read{i}")
    with pytest.raises(ContainerPolicyError, match="at most 8192"):
        b.build()


def test_arn_helpers() -> None:
    assert container_arn("us-west-2", ACCOUNT, "live") == (
        "arn:aws:mediastore:us-west-2:111122223333:container/live"
    )
    assert mediastore_object_arn("us-west-2", ACCOUNT, "live", "a/b.ts") == (
        "arn:aws:mediastore:us-west-2:111122223333:container/live/a/b.ts"
    )
    assert mediastore_object_arn("us-west-2", ACCOUNT, "live", "/a.ts").endswith("live/a.ts")
    with pytest.raises(InvalidInputError):
        container_arn("us-west-2", "12", "live")


# --- parse / serialise --------------------------------------------------------------------


def test_from_json_accepts_any_key_order_and_string_or_list() -> None:
    text = """
    {"Statement": {"Condition": {"Bool": {"aws:SecureTransport": true}},
                   "Resource": ["arn:aws:mediastore:us-west-2:111122223333:container/live/*"],
                   "Action": ["mediastore:*"],
                   "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
                   "Effect": "Allow", "Sid": "MediaStoreFullAccess"},
     "Version": "2012-10-17"}
    """
    parsed = ContainerPolicy.from_json(text)
    assert parsed == builder().allow_account_full_access().build()


def test_from_json_reads_not_elements_and_ids() -> None:
    policy = ContainerPolicy.from_json(
        b'{"Version":"2008-10-17","Id":"p1","Statement":[{"Effect":"Deny",'
        b'"NotPrincipal":{"AWS":["111122223333","arn:aws:iam::111122223333:user/a"],'
        b'"Service":"cloudfront.amazonaws.com"},'
        b'"NotAction":"mediastore:Get*","NotResource":["a","b"],'
        b'"Condition":{"NumericLessThan":{"k":10},"ForAnyValue:StringLike":{"x":["a*"]}}}]}'
    )
    st = policy.statements[0]
    assert policy.version == "2008-10-17"
    assert policy.policy_id == "p1"
    assert st.not_principal == Principal(
        aws=("111122223333", "arn:aws:iam::111122223333:user/a"),
        service="cloudfront.amazonaws.com",
    )
    assert st.not_actions == ("mediastore:Get*",)
    assert st.not_resources == ("a", "b")
    assert st.conditions == (
        Condition("NumericLessThan", "k", ("10",)),
        Condition("ForAnyValue:StringLike", "x", ("a*",)),
    )
    assert ContainerPolicy.from_json(policy.to_json()) == policy


def test_missing_version_means_2008() -> None:
    policy = ContainerPolicy.from_json(
        '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*"}]}'
    )
    assert policy.version == "2008-10-17"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"Version":"2012-10-17"}', "Statement is missing"),
        ('{"Version":"2013-01-01","Statement":[]}', "Version"),
        ('{"Statement":[]}', "at least one statement"),
        ('{"Statement":[1]}', r"Statement\[0\]: expected an object"),
        ('{"Statement":[],"Extra":1}', "unknown element"),
        ('{"Statement":[{"Effect":"Maybe"}]}', r"Statement\[0\]\.Effect"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b"}]}', "Resource"),
        (
            '{"Statement":[{"Effect":"Allow","Principal":"*","NotPrincipal":"*",'
            '"Action":"a:b","Resource":"*"}]}',
            "exactly one of Principal and NotPrincipal",
        ),
        ('{"Statement":[{"Effect":"Allow","Principal":"someone","Action":"a:b","Resource":"*"}]}',
         r"Statement\[0\]\.Principal"),
        ('{"Statement":[{"Effect":"Allow","Principal":{"Bob":"x"},"Action":"a:b","Resource":"*"}]}',
         "unknown principal type"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}]}',
         r"Statement\[0\]\.Action"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":[""],"Resource":"*"}]}',
         r"Statement\[0\]\.Action"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"Bool":{}}}]}', r"Statement\[0\]\.Condition\.Bool"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"Bool":{"aws:SecureTransport":{"a":1}}}}]}',
         r"Statement\[0\]\.Condition\.Bool\.aws:SecureTransport"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"Not An Operator":{"k":"v"}}}]}', "not a condition operator"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Resource":"x"}]}', "duplicate key 'Resource'"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"NumericEquals":{"k":NaN}}}]}', "NaN"),
        (b"\xff", "not UTF-8"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"Null":{"aws:UserAgent":"yes"}}}]}',
         r"Statement\[0\]\.Condition\.Null\.aws:UserAgent: .*'true' or 'false'"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"Null":{"aws:UserAgent":["true",1]}}}]}',
         r"Statement\[0\]\.Condition\.Null\.aws:UserAgent"),
        ('{"Statement":[{"Effect":"Allow","Principal":"*","Action":"a:b","Resource":"*",'
         '"Condition":{"StringNotEquals":{"aws:UserAgent":[]}}}]}',
         r"Statement\[0\]\.Condition\.StringNotEquals\.aws:UserAgent: .*at least one value"),
    ],
)
def test_from_json_rejects_malformed_saying_where(text: str | bytes, where: str) -> None:
    with pytest.raises(ContainerPolicyError, match=where):
        ContainerPolicy.from_json(text)


def test_to_json_refuses_non_ascii_and_oversize() -> None:
    policy = parse({"Sid": "Café", "Effect": "Allow", "Principal": "*", "Action": "a:b",
                    "Resource": "*"})
    with pytest.raises(ContainerPolicyError, match=r"Statement\[0\] holds a non-ASCII"):
        policy.to_json()
    big = parse({"Effect": "Allow", "Principal": "*", "Action": "a:b", "Resource": "x" * 9000})
    with pytest.raises(ContainerPolicyError, match="at most 8192"):
        big.to_json()


def test_null_takes_booleans_and_every_condition_a_value() -> None:
    for value in ("true", "false", "TRUE", "False", True, False):
        parsed = parse({"Effect": "Deny", "Principal": "*", "Action": "a:b", "Resource": "*",
                        "Condition": {"Null": {"aws:UserAgent": value}}})
        expected = value if isinstance(value, str) else str(value).lower()
        assert parsed.statements[0].conditions[0].values == (expected,)
    with pytest.raises(ContainerPolicyError, match="'true' or 'false'"):
        Condition("Null", "aws:UserAgent", "yes")
    with pytest.raises(ContainerPolicyError, match="at least one value"):
        Condition("StringEquals", "aws:UserAgent", ())


def test_statement_requires_exactly_one_of_each_pair() -> None:
    with pytest.raises(ContainerPolicyError, match="exactly one of actions and not_actions"):
        Statement(effect="Allow", principal=Principal.anyone(), resources=("*",))
    with pytest.raises(ContainerPolicyError, match="everyone"):
        Principal()
    with pytest.raises(ContainerPolicyError, match="appears twice"):
        Statement(effect="Allow", principal=Principal.anyone(), actions="a:b", resources="*",
                  conditions=(Condition("Bool", "k", "true"), Condition("Bool", "k", "false")))


def test_conditions_are_grouped_by_operator() -> None:
    st = Statement(
        effect="Allow", principal=Principal.anyone(), actions="a:b", resources="*",
        conditions=(Condition("Bool", "a", "true"), Condition("StringEquals", "b", "x"),
                    Condition("Bool", "c", "false")),
    )
    assert [c.key for c in st.conditions] == ["a", "c", "b"]
    assert ContainerPolicy.from_json(ContainerPolicy(statements=[st]).to_json()).statements == (st,)


# --- findings: one test per finding ------------------------------------------------------

WRITE = {"Effect": "Allow", "Principal": "*", "Action": "mediastore:PutObject",
         "Resource": RESOURCE}


def test_finding_public_write() -> None:
    policy = parse({**WRITE, "Sid": "Open",
                    "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid, finding.index) == (
        "public-write", "error", "Open", 0)
    # the same with {"AWS": "*"}, with mediastore:* and with DeleteObject only
    for principal, action in [({"AWS": "*"}, "mediastore:PutObject"), ("*", "mediastore:*"),
                              ("*", "mediastore:deleteobject"), ("*", "*")]:
        p = parse({**WRITE, "Principal": principal, "Action": action,
                   "Condition": {"Bool": {"aws:SecureTransport": "true"}}})
        assert "public-write" in codes(p), (principal, action)


def test_no_public_write_when_gated_or_not_public() -> None:
    https = {"aws:SecureTransport": "true"}
    gated_ua = parse({**WRITE, "Condition": {"StringEquals": {"aws:useragent": SECRET.user_agent},
                                             "Bool": https}})
    gated_arn = parse({**WRITE, "Condition": {"ArnLike": {"aws:SourceArn": DIST_ARN},
                                              "Bool": https}})
    account = parse({**WRITE, "Principal": {"AWS": ACCOUNT}, "Condition": {"Bool": https}})
    read_only = parse({**WRITE, "Action": "mediastore:GetObject"})
    deny = parse({**WRITE, "Effect": "Deny"})
    for p in (gated_ua, gated_arn, account, read_only, deny):
        assert "public-write" not in codes(p)
    # conditions that do not really gate: IfExists, negation, a bare wildcard
    for op, value in [("StringEqualsIfExists", SECRET.user_agent),
                      ("StringNotEquals", SECRET.user_agent), ("StringLike", "*")]:
        p = parse({**WRITE, "Condition": {op: {"aws:UserAgent": value}, "Bool": https}})
        assert "public-write" in codes(p), op


@pytest.mark.parametrize(
    "value",
    ["*a*", "MediaStore-Secret-*", "*" + SECRET.value, SECRET.user_agent[:-1] + "?",
     [SECRET.user_agent, "*x*"]],
    ids=["inner", "prefix-only", "leading-star", "one-char", "one-of-two"],
)
def test_wildcard_user_agent_does_not_gate_a_public_write(value: object) -> None:
    # StringLike "*a*" matches almost any client, yet counted
    # as a secret because it holds a literal character
    p = parse({**WRITE, "Condition": {"Bool": {"aws:SecureTransport": "true"},
                                      "StringLike": {"aws:UserAgent": value}}})
    assert "public-write" in codes(p)


def test_string_like_without_wildcard_is_a_secret() -> None:
    p = parse({**WRITE, "Condition": {"Bool": {"aws:SecureTransport": "true"},
                                      "StringLike": {"aws:UserAgent": SECRET.user_agent}}})
    assert "public-write" not in codes(p)


def test_finding_insecure_write() -> None:
    policy = parse({**WRITE, "Sid": "Ingest",
                    "Condition": {"StringEquals": {"aws:UserAgent": SECRET.user_agent}}})
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid) == ("insecure-write", "error", "Ingest")
    false = parse({**WRITE, "Condition": {"StringEquals": {"aws:UserAgent": SECRET.user_agent},
                                          "Bool": {"aws:SecureTransport": "false"}}})
    assert codes(false) == ["insecure-write"]
    ok = parse({**WRITE, "Condition": {"StringEquals": {"aws:UserAgent": SECRET.user_agent},
                                       "Bool": {"aws:SecureTransport": True}}})
    assert codes(ok) == []


def test_finding_short_secret_masks_the_value() -> None:
    short = USER_AGENT_PREFIX + "Qz9" + "k" * 16  # 19 characters after the prefix
    policy = parse({**WRITE, "Sid": "Ingest", "Condition": {
        "StringEquals": {"aws:UserAgent": short}, "Bool": {"aws:SecureTransport": "true"}}})
    [finding] = policy.findings()
    assert (finding.code, finding.severity) == ("short-secret", "error")
    assert "Qz9k" not in finding.message
    assert short not in finding.message
    assert "Qz9…" in finding.message
    tiny = parse({**WRITE, "Condition": {"StringEquals": {"aws:UserAgent": "MediaStore-Secret-ab"},
                                         "Bool": {"aws:SecureTransport": "true"}}})
    [finding] = tiny.findings()
    assert "ab" not in finding.message.replace("characters", "")
    twenty = USER_AGENT_PREFIX + "k" * 20
    ok = parse({**WRITE, "Condition": {"StringEquals": {"aws:UserAgent": twenty},
                                       "Bool": {"aws:SecureTransport": "true"}}})
    assert codes(ok) == []


def test_finding_shared_secret() -> None:
    ingest = builder().allow_cloudfront_ingest(SECRET).build().statements[0]
    read = attrs.evolve(builder().allow_cloudfront_read(PLAYBACK).build().statements[0],
                        conditions=ingest.conditions)
    policy = ContainerPolicy(statements=[ingest, read])
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid) == (
        "shared-secret", "warning", "CloudFrontPlayback")
    assert SECRET.value not in finding.message
    assert "Statement[0]" in finding.message


def test_finding_unknown_secret() -> None:
    policy = builder().allow_cloudfront_ingest(SECRET).build()
    assert codes(policy, known_secrets=[SECRET]) == []
    [finding] = policy.findings(known_secrets=[PLAYBACK])
    assert (finding.code, finding.severity) == ("unknown-secret", "warning")
    assert SECRET.value not in finding.message


def test_finding_duplicate_sid() -> None:
    a = builder().allow_public_read_over_https().build().statements[0]
    policy = ContainerPolicy(statements=[a, a])
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid, finding.index) == (
        "duplicate-sid", "error", "PublicReadOverHttps", 1)


def test_finding_policy_too_large() -> None:
    policy = parse({"Effect": "Allow", "Principal": "*", "Action": "mediastore:GetObject",
                    "Resource": [f"{RESOURCE[:-1]}{i:04d}/*" for i in range(150)]})
    assert len(json.dumps(policy.to_dict(), separators=(",", ":"))) > MAX_POLICY_LENGTH
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid) == ("policy-too-large", "error", None)


def test_finding_non_ascii() -> None:
    policy = parse({"Sid": "Lecture", "Effect": "Allow", "Principal": "*",
                    "Action": "mediastore:GetObject", "Resource": RESOURCE + "é"})
    [finding] = policy.findings()
    assert (finding.code, finding.severity, finding.sid) == ("non-ascii", "error", "Lecture")


# --- properties --------------------------------------------------------------------------

_secrets = st.text(string.ascii_letters + string.digits, min_size=20, max_size=60).map(IngestSecret)
_cidrs = st.lists(
    st.builds(
        lambda addr, bits: str(ipaddress.ip_network(f"{addr}/{bits}", strict=False)),
        st.ip_addresses(v=4), st.integers(8, 32),
    ),
    min_size=1, max_size=5, unique=True,
)


@st.composite
def built_policies(draw: st.DrawFn) -> ContainerPolicy:
    b = ContainerPolicyBuilder(
        region=draw(st.sampled_from(["us-west-2", "eu-central-1", "ap-northeast-1"])),
        account_id=draw(st.from_regex(r"\A[0-9]{12}\Z")),
        container=draw(st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z")),
    )
    ingest, playback = draw(st.lists(_secrets, min_size=2, max_size=2,
                                     unique_by=lambda s: s.value))
    steps = draw(st.lists(st.sampled_from(["full", "public", "ingest", "read", "oac"]),
                          min_size=1, max_size=5, unique=True))
    for step in steps:
        if step == "full":
            b = b.allow_account_full_access()
        elif step == "public":
            b = b.allow_public_read_over_https()
        elif step == "ingest":
            b = b.allow_cloudfront_ingest(
                ingest, source_ips=draw(st.none() | _cidrs),
                actions=draw(st.sampled_from(
                    [("mediastore:PutObject",), ("mediastore:PutObject", "mediastore:DeleteObject")]
                )),
            )
        elif step == "read":
            b = b.allow_cloudfront_read(playback)
        else:
            b = b.allow_cloudfront_oac(DIST_ARN, actions=draw(st.sampled_from(
                [("mediastore:GetObject",), ("mediastore:PutObject", "mediastore:GetObject")])))
    return b.build()


@given(built_policies())
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
def test_builder_output_round_trips_fits_and_is_clean(policy: ContainerPolicy) -> None:
    text = policy.to_json()
    assert len(text) <= MAX_POLICY_LENGTH
    assert text.isascii()
    assert ContainerPolicy.from_json(text) == policy
    assert ContainerPolicy.from_json(policy.to_json(indent=2)) == policy
    assert "public-write" not in codes(policy)
    assert [f for f in policy.findings() if f.severity == "error"] == []


_ascii = st.text(string.ascii_letters + string.digits + ":/*?-_.${}", min_size=1, max_size=20)
_values = st.lists(_ascii, min_size=1, max_size=3).map(tuple)
_principals = st.one_of(
    st.just(Principal.anyone()),
    st.builds(Principal, aws=_values),
    st.builds(Principal, service=_values, federated=st.just(()) | _values),
    st.builds(Principal, canonical_user=_values),
)
_conditions = st.lists(
    st.builds(Condition,
              st.sampled_from(["Bool", "StringEquals", "ForAnyValue:StringLike", "IpAddress",
                               "NumericLessThan", "StringNotEqualsIfExists"]),
              _ascii, _values)
    | st.builds(Condition, st.just("Null"), _ascii,
                st.lists(st.sampled_from(["true", "false", "TRUE"]), min_size=1, max_size=2)
                .map(tuple)),
    max_size=4, unique_by=lambda c: (c.operator, c.key),
)


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    principal = draw(_principals)
    kwargs: dict[str, object] = {
        draw(st.sampled_from(["principal", "not_principal"])): principal,
        draw(st.sampled_from(["actions", "not_actions"])): draw(_values),
        draw(st.sampled_from(["resources", "not_resources"])): draw(_values),
    }
    return Statement(
        effect=draw(st.sampled_from(["Allow", "Deny"])),
        sid=draw(st.none() | st.from_regex(r"\A[A-Za-z0-9]{1,12}\Z")),
        conditions=draw(_conditions),
        **kwargs,  # type: ignore[arg-type]
    )


def _reverse_keys(value: object) -> object:
    """The same JSON value with the keys of every object but Condition blocks reversed.

    (The order of conditions is kept: it is part of the value, as list order is.)
    """
    if isinstance(value, dict):
        return {
            k: v if k == "Condition" else _reverse_keys(v)
            for k, v in reversed(list(value.items()))
        }
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


@given(st.lists(statements(), min_size=1, max_size=4),
       st.sampled_from(["2012-10-17", "2008-10-17"]), st.none() | _ascii)
@settings(max_examples=200)
def test_any_policy_round_trips(stmts: list[Statement], version: str, pid: str | None) -> None:
    policy = ContainerPolicy(statements=stmts, version=version, policy_id=pid)
    assert ContainerPolicy.from_json(policy.to_json()) == policy
    reordered = json.dumps(_reverse_keys(policy.to_dict()), indent=1)
    assert ContainerPolicy.from_json(reordered) == policy
    assert hash(ContainerPolicy.from_json(reordered)) == hash(policy)


def test_lists_iterators_and_indents_are_still_taken() -> None:
    """The input checks refuse only what was already broken."""
    policy = builder().allow_cloudfront_ingest(
        SECRET, source_ips=["192.0.2.0/24"], actions=["mediastore:PutObject"]
    ).build()
    assert ContainerPolicy.from_json(policy.to_json()) == policy
    assert json.loads(policy.to_json(indent=2)) == json.loads(policy.to_json())
    assert policy.findings(known_secrets=[SECRET]) == ()
    assert policy.findings(known_secrets=iter([SECRET])) == ()
    assert ContainerPolicyBuilder(
        region="us-west-2", account_id=ACCOUNT, container="live",
        statements=list(policy.statements),
    ).build() == policy
    assert IngestSecret.generate(rng=lambda s: s[0]).value == "a" * 40


# --- CLI: mediastore-ingest container-policy ------------------------------------------------

BASE_ARGS = ["container-policy", "--region", "us-west-2", "--account-id", ACCOUNT,
             "--container", "live"]


def run_cli(argv: list[str]) -> int:
    """Parse with only this subcommand registered and run it (as the CLI frame does)."""
    parser = argparse.ArgumentParser(prog="mediastore-ingest")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_prints_the_seed_policy(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGEST_SECRET", SECRET.value)
    assert run_cli([*BASE_ARGS, "--secret-env", "INGEST_SECRET", "--public-read"]) == 0
    out, err = capsys.readouterr()
    expected = (
        builder().allow_account_full_access().allow_public_read_over_https()
        .allow_cloudfront_ingest(SECRET).build()
    )
    assert out == expected.to_json(indent=2) + "\n"
    assert err == ""


def test_cli_every_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAY", PLAYBACK.value)
    monkeypatch.setenv("INGEST", SECRET.value)
    argv = [*BASE_ARGS, "--secret-env", "INGEST", "--playback-secret-env", "PLAY",
            "--oac-distribution-arn", DIST_ARN, "--oac-action", "mediastore:PutObject",
            "--source-ip", "192.0.2.0/24", "198.51.100.0/24"]
    assert run_cli(argv) == 0
    policy = ContainerPolicy.from_json(capsys.readouterr().out)
    assert [s.sid for s in policy.statements] == [
        "MediaStoreFullAccess", "CloudFrontIngest", "CloudFrontPlayback",
        "CloudFrontOriginAccessControl"]
    assert policy.statements[1].conditions[-1] == Condition(
        "IpAddress", "aws:SourceIp", ("192.0.2.0/24", "198.51.100.0/24"))
    assert policy.statements[3].actions == ("mediastore:PutObject",)


def test_cli_generate_secret_prints_it_once_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_cli([*BASE_ARGS, "--generate-secret"]) == 0
    out, err = capsys.readouterr()
    policy = ContainerPolicy.from_json(out)
    [agent] = policy.statements[1].conditions[0].values
    secret = agent.removeprefix(USER_AGENT_PREFIX)
    assert len(secret) == 40
    assert err.count(secret) == 1
    assert "Store it now" in err
    assert out.count(secret) == 1  # only inside the policy JSON


def test_cli_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    monkeypatch.setenv("SHORT", "abc")
    monkeypatch.setenv("SAME", SECRET.value)
    with pytest.raises(InvalidInputError, match="NOPE is not set"):
        run_cli([*BASE_ARGS, "--secret-env", "NOPE"])
    with pytest.raises(InvalidInputError, match="SHORT") as info:
        run_cli([*BASE_ARGS, "--secret-env", "SHORT"])
    assert "abc" not in str(info.value)
    with pytest.raises(ContainerPolicyError, match="same aws:UserAgent secret") as info:
        run_cli([*BASE_ARGS, "--secret-env", "SAME", "--playback-secret-env", "SAME"])
    assert SECRET.value not in str(info.value)
    with pytest.raises(InvalidInputError, match="required"):
        run_cli(["container-policy", "--region", "us-west-2"])
    with pytest.raises(InvalidInputError, match="--source-ip"):
        run_cli([*BASE_ARGS, "--source-ip", "192.0.2.0/24"])
    with pytest.raises(InvalidInputError, match="account_id"):
        run_cli(["container-policy", "--region", "us-west-2", "--account-id", "1",
                 "--container", "live"])
    with pytest.raises(SystemExit):
        run_cli([*BASE_ARGS, "--generate-secret", "--secret-env", "SAME"])


def test_cli_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = tmp_path / "good.json"
    good.write_text(builder().allow_account_full_access().allow_cloudfront_ingest(SECRET)
                    .build().to_json(indent=4))
    assert run_cli(["container-policy", "--check", str(good)]) == 0
    assert "no findings" in capsys.readouterr().err

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {**WRITE, "Sid": "Open"},
        {**WRITE, "Sid": "Open", "Action": "mediastore:GetObject", "Condition": {
            "StringEquals": {"aws:UserAgent": USER_AGENT_PREFIX + "Short123"}}},
    ]}))
    assert run_cli(["container-policy", "--check", str(bad)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    for code in ("public-write", "insecure-write", "duplicate-sid", "short-secret"):
        assert f"error: [{code}]" in err
    assert "Short123" not in err

    # known secrets from the environment; a warning alone exits 0
    monkeypatch.setenv("INGEST", PLAYBACK.value)
    assert run_cli(["container-policy", "--check", str(good), "--secret-env", "INGEST"]) == 0
    assert "warning: [unknown-secret]" in capsys.readouterr().err

    with pytest.raises(InvalidInputError, match="cannot read"):
        run_cli(["container-policy", "--check", str(tmp_path / "missing.json")])
    with pytest.raises(InvalidInputError, match="--region"):
        run_cli(["container-policy", "--check", str(good), "--region", "us-west-2"])
    broken = tmp_path / "broken.json"
    broken.write_text('{"Statement": [{"Effect": "Allow"}]}')
    with pytest.raises(ContainerPolicyError, match=r"Statement\[0\]"):
        run_cli(["container-policy", "--check", str(broken)])


def test_cli_check_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = builder().allow_public_read_over_https().build().to_json()
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert run_cli(["container-policy", "--check", "-"]) == 0
    assert "-: no findings" in capsys.readouterr().err


def test_reprs_never_show_a_user_agent_secret() -> None:
    ingest, playback = IngestSecret.generate(), IngestSecret.generate()
    built = (builder().allow_account_full_access().allow_cloudfront_ingest(ingest)
             .allow_cloudfront_read(playback))
    policy = built.build()
    parsed = parse({"Effect": "Allow", "Principal": "*", "Action": "mediastore:GetObject",
                    "Resource": RESOURCE, "Condition": {
                        "StringLike": {"AWS:USERAGENT": [ingest.user_agent + "*", "x"]},
                        "StringNotEquals": {"aws:useragent": playback.user_agent}}})
    shown = [repr(built), str(built)]
    for p in (policy, parsed):
        shown += [repr(p), str(p)]
        for statement in p.statements:
            shown += [repr(statement), str(statement)]
            shown += [text for c in statement.conditions for text in (repr(c), str(c))]
    for text in shown:
        assert ingest.value not in text
        assert playback.value not in text
    # still recognisable, and other keys' values are shown as they are
    assert f"{USER_AGENT_PREFIX}{ingest.value[:3]}…" in repr(policy)
    assert "'aws:SecureTransport', values=('true',)" in repr(policy)
    # the serialised policy is unchanged: it must carry the secret
    assert ingest.user_agent in policy.to_json()
    assert ingest.user_agent + "*" in parsed.to_json()
