"""Offline IAM evaluation of container policies (policy_eval)."""

from __future__ import annotations

import json

import pytest

from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    UnsupportedPolicyFeatureError,
)
from mediastore_ingest.iam.evaluate import (
    Decision,
    EvaluationResult,
    RequestContext,
    evaluate_container_policy,
)
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder, mediastore_object_arn

ACCOUNT = "111122223333"
USER = "arn:aws:iam::111122223333:user/encoder"
SECRET = IngestSecret("Ab3" + "x" * 37)
OTHER = IngestSecret("Zz9" + "q" * 37)
SEGMENT = mediastore_object_arn("us-west-2", ACCOUNT, "live", "channel1/seg1.ts")
ROOT = mediastore_object_arn("us-west-2", ACCOUNT, "live", "")  # ListItems on the root
DIST_ARN = "arn:aws:cloudfront::111122223333:distribution/E2EXAMPLE1"

SEED_POLICY = (
    ContainerPolicyBuilder(region="us-west-2", account_id=ACCOUNT, container="live")
    .allow_account_full_access()
    .allow_public_read_over_https()
    .allow_cloudfront_ingest(SECRET)
    .build()
)

# principal transport user-agent action     decision       deciding Sid
SEED_TABLE = """
anon    https  right    PutObject       allow          CloudFrontIngest
anon    https  right    GetObject       allow          PublicReadOverHttps
anon    https  right    DescribeObject  allow          PublicReadOverHttps
anon    https  right    DeleteObject    implicit-deny  -
anon    https  right    ListItems       implicit-deny  -
anon    https  wrong    PutObject       implicit-deny  -
anon    https  wrong    GetObject       allow          PublicReadOverHttps
anon    https  wrong    DescribeObject  allow          PublicReadOverHttps
anon    https  wrong    DeleteObject    implicit-deny  -
anon    https  wrong    ListItems       implicit-deny  -
anon    https  missing  PutObject       implicit-deny  -
anon    https  missing  GetObject       allow          PublicReadOverHttps
anon    https  missing  DescribeObject  allow          PublicReadOverHttps
anon    https  missing  DeleteObject    implicit-deny  -
anon    https  missing  ListItems       implicit-deny  -
anon    http   right    PutObject       implicit-deny  -
anon    http   right    GetObject       implicit-deny  -
anon    http   right    DescribeObject  implicit-deny  -
anon    http   right    DeleteObject    implicit-deny  -
anon    http   right    ListItems       implicit-deny  -
anon    http   wrong    PutObject       implicit-deny  -
anon    http   wrong    GetObject       implicit-deny  -
anon    http   wrong    DescribeObject  implicit-deny  -
anon    http   wrong    DeleteObject    implicit-deny  -
anon    http   wrong    ListItems       implicit-deny  -
anon    http   missing  PutObject       implicit-deny  -
anon    http   missing  GetObject       implicit-deny  -
anon    http   missing  DescribeObject  implicit-deny  -
anon    http   missing  DeleteObject    implicit-deny  -
anon    http   missing  ListItems       implicit-deny  -
account https  right    PutObject       allow          MediaStoreFullAccess
account https  right    GetObject       allow          MediaStoreFullAccess
account https  right    DescribeObject  allow          MediaStoreFullAccess
account https  right    DeleteObject    allow          MediaStoreFullAccess
account https  right    ListItems       allow          MediaStoreFullAccess
account https  wrong    PutObject       allow          MediaStoreFullAccess
account https  wrong    GetObject       allow          MediaStoreFullAccess
account https  wrong    DescribeObject  allow          MediaStoreFullAccess
account https  wrong    DeleteObject    allow          MediaStoreFullAccess
account https  wrong    ListItems       allow          MediaStoreFullAccess
account https  missing  PutObject       allow          MediaStoreFullAccess
account https  missing  GetObject       allow          MediaStoreFullAccess
account https  missing  DescribeObject  allow          MediaStoreFullAccess
account https  missing  DeleteObject    allow          MediaStoreFullAccess
account https  missing  ListItems       allow          MediaStoreFullAccess
account http   right    PutObject       implicit-deny  -
account http   right    GetObject       implicit-deny  -
account http   right    DescribeObject  implicit-deny  -
account http   right    DeleteObject    implicit-deny  -
account http   right    ListItems       implicit-deny  -
account http   wrong    PutObject       implicit-deny  -
account http   wrong    GetObject       implicit-deny  -
account http   wrong    DescribeObject  implicit-deny  -
account http   wrong    DeleteObject    implicit-deny  -
account http   wrong    ListItems       implicit-deny  -
account http   missing  PutObject       implicit-deny  -
account http   missing  GetObject       implicit-deny  -
account http   missing  DescribeObject  implicit-deny  -
account http   missing  DeleteObject    implicit-deny  -
account http   missing  ListItems       implicit-deny  -
"""


def _rows() -> list[tuple[str, ...]]:
    return [tuple(line.split()) for line in SEED_TABLE.strip().splitlines()]


def test_seed_table_is_complete() -> None:
    keys = {row[:4] for row in _rows()}
    assert len(keys) == len(_rows()) == 2 * 2 * 3 * 5


@pytest.mark.parametrize(("principal", "transport", "agent", "action", "decision", "sid"), _rows())
def test_seed_policy_decision_table(
    principal: str, transport: str, agent: str, action: str, decision: str, sid: str
) -> None:
    context = RequestContext(
        action=f"mediastore:{action}",
        resource=ROOT if action == "ListItems" else SEGMENT,
        principal=None if principal == "anon" else USER,
        secure_transport=transport == "https",
        user_agent={"right": SECRET.user_agent, "wrong": OTHER.user_agent, "missing": None}[agent],
    )
    result = evaluate_container_policy(SEED_POLICY, context)
    assert result.decision is Decision(decision)
    assert result.sid == (None if sid == "-" else sid)
    assert result.allowed is (decision == "allow")
    if result.sid is not None:
        assert SEED_POLICY.statements[result.index or 0].sid == sid
    else:
        assert result.index is None
    assert SECRET.value not in result.reason
    assert OTHER.value not in result.reason


# --- helpers -----------------------------------------------------------------------------


def one(condition: dict[str, object] | None = None, **overrides: object) -> dict[str, object]:
    """A policy with one statement: anyone, any action, any resource, plus ``condition``."""
    statement: dict[str, object] = {"Sid": "S", "Effect": "Allow", "Principal": "*",
                                    "Action": "*", "Resource": "*"}
    if condition is not None:
        statement["Condition"] = condition
    statement.update(overrides)
    return {"Version": "2012-10-17", "Statement": [statement]}


def ctx(**kwargs: object) -> RequestContext:
    fields: dict[str, object] = {"action": "mediastore:PutObject", "resource": SEGMENT}
    fields.update(kwargs)
    return RequestContext(**fields)  # type: ignore[arg-type]


def decide(policy: object, context: RequestContext) -> Decision:
    return evaluate_container_policy(policy, context).decision  # type: ignore[arg-type]


ALLOW, DENY, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY


# --- operators ----------------------------------------------------------------------------

OPERATOR_CASES = [
    # operator, policy values, request value (None = key absent), allowed?
    ("Bool", "true", "true", True),
    ("Bool", "true", "false", False),
    ("Bool", "TRUE", "true", True),
    ("Bool", "false", None, False),
    ("StringEquals", "abc", "abc", True),
    ("StringEquals", "abc", "ABC", False),
    ("StringEquals", ["x", "abc"], "abc", True),
    ("StringEquals", "abc", None, False),
    ("StringNotEquals", "abc", "abd", True),
    ("StringNotEquals", ["abc", "abd"], "abd", False),
    ("StringNotEquals", "abc", None, True),
    ("StringEqualsIgnoreCase", "AbC", "aBc", True),
    ("StringEqualsIgnoreCase", "AbC", "aBd", False),
    ("StringNotEqualsIgnoreCase", "AbC", "abc", False),
    ("StringNotEqualsIgnoreCase", "AbC", "abd", True),
    ("StringLike", "live/*.ts", "live/a/b.ts", True),
    ("StringLike", "seg?.ts", "seg1.ts", True),
    ("StringLike", "seg?.ts", "seg10.ts", False),
    ("StringLike", "Seg*", "seg1", False),
    ("StringLike", "*", None, False),
    ("StringNotLike", "*.m3u8", "a.ts", True),
    ("StringNotLike", "*.m3u8", "a.m3u8", False),
    ("StringNotLike", "*.m3u8", None, True),
    ("IpAddress", "192.0.2.0/24", "192.0.2.77", True),
    ("IpAddress", "192.0.2.0/24", "192.0.3.1", False),
    ("IpAddress", "192.0.2.7", "192.0.2.7", True),
    ("IpAddress", ["10.0.0.0/8", "2001:db8::/32"], "2001:db8::1", True),
    ("IpAddress", "192.0.2.0/24", "::ffff:192.0.2.1", False),
    ("IpAddress", "192.0.2.0/24", None, False),
    ("NotIpAddress", "192.0.2.0/24", "192.0.3.1", True),
    ("NotIpAddress", "192.0.2.0/24", "192.0.2.1", False),
    ("NotIpAddress", "192.0.2.0/24", None, True),
    ("ArnEquals", DIST_ARN, DIST_ARN, True),
    ("ArnEquals", DIST_ARN, DIST_ARN + "2", False),
    ("ArnLike", "arn:aws:cloudfront::111122223333:distribution/*", DIST_ARN, True),
    ("ArnLike", "arn:aws:cloudfront::*:distribution/E2EXAMPLE1", DIST_ARN, True),
    ("ArnLike", "arn:aws:*:distribution/E2EXAMPLE1", DIST_ARN, False),  # '*' stays in a part
    ("ArnLike", "arn:aws:cloudfront::111122223333:distribution/*", "not-an-arn", False),
    ("ArnNotEquals", DIST_ARN, DIST_ARN, False),
    ("ArnNotEquals", DIST_ARN, "arn:aws:cloudfront::999999999999:distribution/X", True),
    ("ArnNotLike", "arn:aws:cloudfront::111122223333:*", DIST_ARN, False),
    ("ArnNotLike", "arn:aws:cloudfront::111122223333:*", None, True),
    ("Null", "true", None, True),
    ("Null", "true", "x", False),
    ("Null", "false", "x", True),
    ("Null", "false", None, False),
]


@pytest.mark.parametrize(("operator", "values", "actual", "allowed"), OPERATOR_CASES)
def test_each_operator(operator: str, values: object, actual: str | None, allowed: bool) -> None:
    key = {"Ip": "aws:SourceIp", "Ar": "aws:SourceArn", "Bo": "aws:SecureTransport"}.get(
        operator.removeprefix("Not")[:2], "aws:UserAgent"
    )
    fields: dict[str, object] = {
        "aws:SourceIp": {"source_ip": actual},
        "aws:SourceArn": {"source_arn": actual},
        "aws:UserAgent": {"user_agent": actual},
    }.get(key, {})
    if key == "aws:SecureTransport":
        if actual is None:  # aws:SecureTransport is always present: test absence elsewhere
            key, fields = "test:flag", {"extra": {"test:flag": ()}}
        else:
            fields = {"secure_transport": actual == "true"}
    policy = one({operator: {key: values}})
    assert decide(policy, ctx(**fields)) is (ALLOW if allowed else IMPLICIT)


def test_if_exists() -> None:
    policy = one({"StringEqualsIfExists": {"aws:UserAgent": SECRET.user_agent}})
    assert decide(policy, ctx()) is ALLOW  # key absent
    assert decide(policy, ctx(user_agent=SECRET.user_agent)) is ALLOW
    assert decide(policy, ctx(user_agent=OTHER.user_agent)) is IMPLICIT
    ip = one({"IpAddressIfExists": {"aws:SourceIp": "192.0.2.0/24"}})
    assert decide(ip, ctx()) is ALLOW
    assert decide(ip, ctx(source_ip="198.51.100.1")) is IMPLICIT
    negated = one({"StringNotEqualsIfExists": {"aws:UserAgent": "bad"}})
    assert decide(negated, ctx(user_agent="bad")) is IMPLICIT
    assert decide(negated, ctx()) is ALLOW


def test_set_operators() -> None:
    any_value = one({"ForAnyValue:StringEquals": {"test:tags": ["a", "b"]}})
    all_values = one({"ForAllValues:StringEquals": {"test:tags": ["a", "b"]}})
    assert decide(any_value, ctx(extra={"test:tags": ["z", "b"]})) is ALLOW
    assert decide(any_value, ctx(extra={"test:tags": ["z", "y"]})) is IMPLICIT
    assert decide(any_value, ctx(extra={"test:tags": ()})) is IMPLICIT  # key absent
    assert decide(all_values, ctx(extra={"test:tags": ["a", "b"]})) is ALLOW
    assert decide(all_values, ctx(extra={"test:tags": ["a", "z"]})) is IMPLICIT
    assert decide(all_values, ctx(extra={"test:tags": ()})) is ALLOW  # vacuously true
    none_of = one({"ForAllValues:StringNotEquals": {"test:tags": ["a"]}})
    assert decide(none_of, ctx(extra={"test:tags": ["b", "c"]})) is ALLOW
    assert decide(none_of, ctx(extra={"test:tags": ["b", "a"]})) is IMPLICIT
    # without a set operator, one of several request values is enough
    plain = one({"StringEquals": {"test:tags": "b"}})
    assert decide(plain, ctx(extra={"test:tags": ("a", "b")})) is ALLOW


def test_several_keys_and_operators_are_anded_values_ored() -> None:
    policy = one({
        "StringEquals": {"aws:UserAgent": [SECRET.user_agent, OTHER.user_agent],
                         "aws:SourceAccount": ACCOUNT},
        "Bool": {"aws:SecureTransport": "true"},
    })
    good = {"user_agent": OTHER.user_agent, "source_account": ACCOUNT}
    assert decide(policy, ctx(**good)) is ALLOW
    assert decide(policy, ctx(**good, secure_transport=False)) is IMPLICIT
    assert decide(policy, ctx(user_agent=OTHER.user_agent)) is IMPLICIT
    assert decide(policy, ctx(**{**good, "source_account": "999999999999"})) is IMPLICIT


# --- case rules ---------------------------------------------------------------------------


def test_condition_keys_ignore_case_values_do_not() -> None:
    policy = one({"StringEquals": {"AWS:USERAGENT": SECRET.user_agent}})
    assert decide(policy, ctx(user_agent=SECRET.user_agent)) is ALLOW
    assert decide(policy, ctx(user_agent=SECRET.user_agent.lower())) is IMPLICIT
    extra = one({"StringEquals": {"Test:Key": "v"}})
    assert decide(extra, ctx(extra={"tEST:kEY": "v"})) is ALLOW
    assert ctx(extra={"Test:Key": "v"}).condition_values()["test:key"] == ("v",)


def test_actions_ignore_case_resources_do_not() -> None:
    policy = one(Action="MEDIASTORE:put*", Resource=SEGMENT)
    assert decide(policy, ctx(action="mediastore:PutObject")) is ALLOW
    assert decide(policy, ctx(action="mediastore:GetObject")) is IMPLICIT
    assert decide(policy, ctx(resource=SEGMENT.upper())) is IMPLICIT
    wild = one(Action="mediastore:?etObject", Resource="arn:aws:mediastore:*:container/live/*")
    assert decide(wild, ctx(action="mediastore:GetObject")) is ALLOW
    assert decide(wild, ctx(action="mediastore:DescribeObject")) is IMPLICIT
    assert decide(wild, ctx(action="mediastore:GetObject",
                            resource=SEGMENT.replace("/live/", "/other/"))) is IMPLICIT


# --- principals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "caller", "allowed"),
    [
        ("*", None, True),
        ("*", USER, True),
        ({"AWS": "*"}, None, True),
        ({"AWS": ACCOUNT}, USER, True),
        ({"AWS": ACCOUNT}, "arn:aws:sts::111122223333:assumed-role/r/s", True),
        ({"AWS": ACCOUNT}, ACCOUNT, True),
        ({"AWS": ACCOUNT}, None, False),
        ({"AWS": ACCOUNT}, "arn:aws:iam::999999999999:user/encoder", False),
        ({"AWS": "arn:aws:iam::111122223333:root"}, USER, True),
        ({"AWS": "arn:aws:iam::111122223333:root"}, "cloudfront.amazonaws.com", False),
        ({"AWS": USER}, USER, True),
        ({"AWS": USER}, "arn:aws:iam::111122223333:user/other", False),
        ({"Service": "cloudfront.amazonaws.com"}, "cloudfront.amazonaws.com", True),
        ({"Service": "cloudfront.amazonaws.com"}, None, False),
        ({"Service": "cloudfront.amazonaws.com"}, USER, False),
    ],
)
def test_principals(principal: object, caller: str | None, allowed: bool) -> None:
    policy = one(Principal=principal)
    assert decide(policy, ctx(principal=caller)) is (ALLOW if allowed else IMPLICIT)


def test_oac_statement() -> None:
    policy = (
        ContainerPolicyBuilder(region="us-west-2", account_id=ACCOUNT, container="live")
        .allow_cloudfront_oac(DIST_ARN, actions=("mediastore:PutObject",))
        .build()
    )
    cloudfront = {"principal": "cloudfront.amazonaws.com"}
    result = evaluate_container_policy(policy, ctx(**cloudfront, source_arn=DIST_ARN))
    assert (result.decision, result.sid) == (ALLOW, "CloudFrontOriginAccessControl")
    other = DIST_ARN.replace("E2EXAMPLE1", "EOTHER")
    assert decide(policy, ctx(**cloudfront, source_arn=other)) is IMPLICIT
    assert decide(policy, ctx(**cloudfront)) is IMPLICIT
    assert decide(policy, ctx(source_arn=DIST_ARN)) is IMPLICIT  # anonymous, not CloudFront


def test_ingest_source_ip_condition() -> None:
    policy = (
        ContainerPolicyBuilder(region="us-west-2", account_id=ACCOUNT, container="live")
        .allow_cloudfront_ingest(SECRET, source_ips=["192.0.2.0/24"])
        .build()
    )
    assert decide(policy, ctx(user_agent=SECRET.user_agent, source_ip="192.0.2.9")) is ALLOW
    assert decide(policy, ctx(user_agent=SECRET.user_agent, source_ip="203.0.113.9")) is IMPLICIT
    assert decide(policy, ctx(user_agent=SECRET.user_agent)) is IMPLICIT


# --- Not* elements and precedence -----------------------------------------------------------


def test_explicit_deny_wins_whatever_the_order() -> None:
    deny = {"Sid": "NoDelete", "Effect": "Deny", "Principal": "*",
            "Action": "mediastore:DeleteObject", "Resource": "*"}
    allow = {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    for statements, deny_index in (([allow, deny], 1), ([deny, allow], 0)):
        policy = {"Version": "2012-10-17", "Statement": statements}
        result = evaluate_container_policy(policy, ctx(action="mediastore:DeleteObject"))
        assert result == EvaluationResult(
            DENY, "NoDelete", deny_index, result.reason
        )
        assert "explicitly denies" in result.reason
        assert decide(policy, ctx(action="mediastore:PutObject")) is ALLOW


def test_deny_plain_http_with_bool_false() -> None:
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}
    assert decide(policy, ctx()) is ALLOW
    assert evaluate_container_policy(policy, ctx(secure_transport=False)).sid == "HttpsOnly"


def test_not_action_not_resource_not_principal() -> None:
    not_action = one(Action=None, NotAction="mediastore:Delete*")
    del not_action["Statement"][0]["Action"]  # type: ignore[index]
    assert decide(not_action, ctx(action="mediastore:PutObject")) is ALLOW
    assert decide(not_action, ctx(action="mediastore:DeleteObject")) is IMPLICIT
    not_resource = one(NotResource=ROOT + "private/*")
    del not_resource["Statement"][0]["Resource"]  # type: ignore[index]
    assert decide(not_resource, ctx()) is ALLOW
    assert decide(not_resource, ctx(resource=ROOT + "private/a.ts")) is IMPLICIT
    deny_others = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Sid": "OnlyAccount", "Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT},
         "Action": "*", "Resource": "*"},
    ]}
    assert decide(deny_others, ctx(principal=USER)) is ALLOW
    assert decide(deny_others, ctx()) is DENY
    assert decide(deny_others, ctx(principal="arn:aws:iam::999999999999:user/x")) is DENY


# --- unsupported features and bad input -----------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"NumericLessThan": {"test:n": "10"}},
        {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"BinaryEquals": {"test:b": "QUJD"}},
        {"StringEqualz": {"aws:UserAgent": "x"}},
        {"NullIfExists": {"aws:UserAgent": "true"}},
        {"ForAnyValue:Null": {"aws:UserAgent": "true"}},
        {"StringLike": {"aws:UserAgent": "${aws:username}*"}},
    ],
)
def test_unsupported_condition_is_an_error_never_an_allow(condition: dict[str, object]) -> None:
    # the unsupported statement sits behind an Allow that already matches
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
         "Condition": condition},
    ]}
    with pytest.raises(UnsupportedPolicyFeatureError, match=r"Statement\[1\]"):
        evaluate_container_policy(policy, ctx())


def test_policy_variables_in_resource_are_unsupported() -> None:
    with pytest.raises(UnsupportedPolicyFeatureError):
        evaluate_container_policy(one(Resource="arn:aws:mediastore:*/${aws:userid}/*"), ctx())


def test_policy_inputs() -> None:
    as_text = SEED_POLICY.to_json()
    as_dict = json.loads(as_text)
    context = ctx(user_agent=SECRET.user_agent)
    results = {evaluate_container_policy(p, context) for p in (SEED_POLICY, as_text, as_dict)}
    assert len(results) == 1
    with pytest.raises(ContainerPolicyError):
        evaluate_container_policy("{not json", context)
    with pytest.raises(ContainerPolicyError):
        evaluate_container_policy({"Statement": []}, context)
    with pytest.raises(InvalidInputError):
        evaluate_container_policy(42, context)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        evaluate_container_policy(SEED_POLICY, {"action": "x"})  # type: ignore[arg-type]
    with pytest.raises(ContainerPolicyError, match="CIDR"):
        evaluate_container_policy(one({"IpAddress": {"aws:SourceIp": "nope"}}),
                                  ctx(source_ip="192.0.2.1"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "PutObject"},
        {"action": "mediastore:*"},
        {"resource": ""},
        {"principal": ""},
        {"source_ip": "192.0.2.300"},
        {"extra": {"aws:UserAgent": "x"}},
        {"extra": {"a:b": "1", "A:B": "2"}},
        {"extra": {"a:b": [1]}},
    ],
)
def test_request_context_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        ctx(**kwargs)


def test_request_context_values_and_repr() -> None:
    context = ctx(user_agent=SECRET.user_agent, source_ip="192.0.2.1", source_arn=DIST_ARN,
                  source_account=ACCOUNT, secure_transport=False, extra={"S3:Prefix": ["a", "b"]})
    assert context.condition_values() == {
        "aws:securetransport": ("false",),
        "aws:useragent": (SECRET.user_agent,),
        "aws:sourceip": ("192.0.2.1",),
        "aws:sourcearn": (DIST_ARN,),
        "aws:sourceaccount": (ACCOUNT,),
        "aws:principaltype": ("Anonymous",),
        "s3:prefix": ("a", "b"),
    }
    assert SECRET.value not in repr(context)
    assert ctx().condition_values() == {
        "aws:securetransport": ("true",), "aws:principaltype": ("Anonymous",)
    }
    assert ctx().known_keys() == {
        "aws:securetransport", "aws:useragent", "aws:sourceip", "aws:sourcearn",
        "aws:sourceaccount", "aws:principalarn", "aws:principalaccount", "aws:principaltype",
    }


# --- principal keys and condition keys the evaluator does not model --------------------------

ROLE = "arn:aws:iam::111122223333:role/encoder"
SESSION = "arn:aws:sts::111122223333:assumed-role/encoder/session1"
FULL_ACCESS = {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "mediastore:*",
               "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}}


def deny_when(condition: dict[str, object], action: str = "mediastore:PutObject") -> object:
    """Full access for the account, and a Deny of ``action`` under ``condition``."""
    return {"Version": "2012-10-17", "Statement": [
        FULL_ACCESS,
        {"Effect": "Deny", "Principal": "*", "Action": action, "Resource": "*",
         "Condition": condition},
    ]}


@pytest.mark.parametrize(
    ("principal", "arn", "account", "kind"),
    [
        (None, None, None, "Anonymous"),
        (USER, USER, ACCOUNT, "User"),
        (ROLE, ROLE, ACCOUNT, "AssumedRole"),
        ("arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root", ACCOUNT,
         "Account"),
        (ACCOUNT, "arn:aws:iam::111122223333:root", ACCOUNT, "Account"),
        ("arn:aws:sts::111122223333:federated-user/bob",
         "arn:aws:sts::111122223333:federated-user/bob", ACCOUNT, "FederatedUser"),
    ],
)
def test_principal_keys_are_derived_from_the_principal(
    principal: str | None, arn: str | None, account: str | None, kind: str
) -> None:
    values = ctx(principal=principal).condition_values()
    assert values.get("aws:principalarn") == (None if arn is None else (arn,))
    assert values.get("aws:principalaccount") == (None if account is None else (account,))
    assert values["aws:principaltype"] == (kind,)
    # the values really decide: a Deny on each of them applies
    for key, value in (("aws:PrincipalArn", arn), ("aws:PrincipalAccount", account),
                       ("aws:PrincipalType", kind)):
        expected = DENY if value is not None else IMPLICIT if principal is None else ALLOW
        policy = deny_when({"StringEquals": {key: value or "x"}})
        assert decide(policy, ctx(principal=principal)) is expected, key


def test_account_principal_takes_the_partition_of_the_resource() -> None:
    context = ctx(principal=ACCOUNT, resource="arn:aws-cn:mediastore:cn-north-1:"
                  "111122223333:container/live/a.ts")
    assert context.condition_values()["aws:principalarn"] == ("arn:aws-cn:iam::111122223333:root",)


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:PrincipalArn": ROLE}},
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/*"}},
        {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}},
        {"StringEquals": {"aws:PrincipalType": "AssumedRole"}},
        {"StringNotEquals": {"aws:PrincipalType": "User"}},
        {"Null": {"aws:PrincipalArn": "false"}},
    ],
)
def test_deny_on_principal_keys_applies(condition: dict[str, object]) -> None:
    # each of these used to be ALLOW (key treated as missing)
    assert decide(deny_when(condition), ctx(principal=ROLE)) is DENY


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {"aws:RequestedRegion": "us-west-2"}},
        {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}},
        {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}},
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"ForAllValues:StringEquals": {"aws:TagKeys": "a"}},
        {"StringEquals": {"s3:x-amz-acl": "public-read"}},
        {"StringEquals": {"mediastore:Something": "x"}},
    ],
)
def test_unmodelled_condition_key_is_an_error_never_a_guess(
    condition: dict[str, object],
) -> None:
    [keys] = condition.values()
    [key] = keys  # type: ignore[attr-defined]
    # raised before any decision, even when the statement is for another action
    for action in ("mediastore:PutObject", "mediastore:DeleteObject"):
        with pytest.raises(UnsupportedPolicyFeatureError, match=rf"Statement\[1\].*{key}"):
            evaluate_container_policy(deny_when(condition, action), ctx(principal=ROLE))


def test_unmodelled_key_given_in_extra_is_used() -> None:
    policy = deny_when({"StringEquals": {"aws:RequestedRegion": "us-west-2"}})
    assert decide(policy, ctx(principal=ROLE, extra={"aws:RequestedRegion": "us-west-2"})) is DENY
    assert decide(policy, ctx(principal=ROLE, extra={"AWS:requestedregion": "eu-west-1"})) is ALLOW
    # an empty value declares the key absent from the request
    absent = ctx(principal=ROLE, extra={"aws:RequestedRegion": ()})
    assert decide(policy, absent) is ALLOW
    assert "aws:requestedregion" not in absent.condition_values()
    negated = deny_when({"StringNotEquals": {"aws:RequestedRegion": "us-west-2"}})
    assert decide(negated, absent) is DENY
    assert decide(deny_when({"Null": {"aws:RequestedRegion": "true"}}), absent) is DENY


def test_principal_keys_that_cannot_be_derived_come_from_extra_or_raise() -> None:
    # an STS session ARN does not carry the role's path: aws:PrincipalArn is unknown
    by_arn = deny_when({"StringEquals": {"aws:PrincipalArn": ROLE}})
    with pytest.raises(UnsupportedPolicyFeatureError, match="aws:PrincipalArn"):
        decide(by_arn, ctx(principal=SESSION))
    assert decide(by_arn, ctx(principal=SESSION, extra={"aws:PrincipalArn": ROLE})) is DENY
    by_type = deny_when({"StringEquals": {"aws:PrincipalType": "AssumedRole"}})
    assert decide(by_type, ctx(principal=SESSION)) is DENY
    assert decide(deny_when({"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}),
                  ctx(principal=SESSION)) is DENY
    # a service principal: none of the three is derived
    for key in ("aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalType"):
        with pytest.raises(UnsupportedPolicyFeatureError, match=key):
            decide(deny_when({"StringEquals": {key: "x"}}),
                   ctx(principal="cloudfront.amazonaws.com"))
    # a key derived from the principal cannot be overridden
    with pytest.raises(InvalidInputError, match="aws:PrincipalType"):
        ctx(principal=USER, extra={"aws:PrincipalType": "Account"})


@pytest.mark.parametrize(
    "condition",
    [
        {"Null": {"aws:UserAgent": "yes"}},
        {"StringNotEquals": {"aws:UserAgent": []}},
        {"StringEquals": {"aws:UserAgent": []}},
    ],
)
def test_null_with_a_non_boolean_and_empty_value_lists_are_malformed(
    condition: dict[str, object],
) -> None:
    # "yes" was read as "false", [] as "never matches"
    with pytest.raises(ContainerPolicyError, match=r"Statement\[1\]\.Condition"):
        evaluate_container_policy(deny_when(condition), ctx(principal=ROLE, user_agent="x"))


def test_request_context_is_hashable_and_immutable() -> None:
    source: dict[str, str | list[str]] = {"S3:Prefix": ["a", "b"], "test:k": "v"}
    context = ctx(user_agent=SECRET.user_agent, extra=source)
    same = ctx(user_agent=SECRET.user_agent, extra={"S3:Prefix": ("a", "b"), "test:k": ["v"]})
    assert hash(context) == hash(same)  # used to raise TypeError (extra was a dict)
    assert context == same
    assert len({context, same, ctx()}) == 2
    assert context != ctx(user_agent=SECRET.user_agent, extra={"S3:Prefix": "a", "test:k": "v"})
    # extra is a read-only snapshot of the mapping it was given
    source["test:k"] = "changed"
    assert context.extra["test:k"] == ("v",)
    assert dict(context.extra) == {"S3:Prefix": ("a", "b"), "test:k": ("v",)}
    with pytest.raises(TypeError):
        context.extra["test:k"] = ("w",)  # type: ignore[index]
    assert hash(ctx()) == hash(ctx(extra={}))
    assert SECRET.value not in repr(context)


@pytest.mark.parametrize("extra", [["a:b"], {"a:b": 1}, {"a:b": [["x"]]}, {1: "x"}])
def test_request_context_rejects_malformed_extra(extra: object) -> None:
    with pytest.raises(InvalidInputError):
        ctx(extra=extra)


def test_hostile_wildcards_are_matched_in_linear_time_with_iam_semantics() -> None:
    # '*a' twenty times then 'b': a backtracking regex explores ~C(60, 20) ways to fail
    hostile = "*a" * 20 + "b"
    long_ua = "a" * 60
    like = one({"StringLike": {"aws:UserAgent": hostile}})
    assert decide(like, ctx(user_agent=long_ua)) is IMPLICIT
    assert decide(like, ctx(user_agent=long_ua + "b")) is ALLOW
    arn = one({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::*:distribution/" + hostile}})
    dist = "arn:aws:cloudfront::111122223333:distribution/" + long_ua
    assert decide(arn, ctx(source_arn=dist)) is IMPLICIT
    assert decide(arn, ctx(source_arn=dist + "b")) is ALLOW
    resource = one(Resource="arn:aws:mediastore:us-west-2:111122223333:container/live/" + hostile)
    segment = mediastore_object_arn("us-west-2", ACCOUNT, "live", long_ua)
    assert decide(resource, ctx(resource=segment)) is IMPLICIT
    assert decide(resource, ctx(resource=segment + "b")) is ALLOW
    action = one(Action="mediastore:" + "*t" * 20 + "x")
    assert decide(action, ctx(action="mediastore:" + "t" * 60)) is IMPLICIT
