"""S3 bucket policies for Origin Access Control: exact JSON, lint, round trip, and the
offline decision table (who may do what, over which transport)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mediastore_ingest.cli as cli_package
from mediastore_ingest.cli import main as cli_main
from mediastore_ingest.errors import ContainerPolicyError, InvalidInputError
from mediastore_ingest.iam.document import (
    MAX_POLICY_LENGTH,
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
)
from mediastore_ingest.iam.evaluate import Decision, RequestContext, evaluate_container_policy
from mediastore_ingest.origins.arn import distribution_arn
from mediastore_ingest.origins.s3 import (
    MAX_BUCKET_POLICY_BYTES,
    S3_INGEST_ACTIONS,
    BucketPolicy,
    BucketPolicyBuilder,
    bucket_arn,
    check_bucket_name,
    s3_object_arn,
)

ACCOUNT = "111122223333"
BUCKET = "live-origin"
INGEST_ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1INGEST"
PLAYBACK_ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E2PLAYBACK"
OTHER_ARN = "arn:aws:cloudfront::444455556666:distribution/E3OTHER"
CF = "cloudfront.amazonaws.com"


def builder() -> BucketPolicyBuilder:
    return BucketPolicyBuilder(bucket=BUCKET, account_id=ACCOUNT)


def full_policy(ingest_actions: tuple[str, ...] = ("s3:PutObject",)) -> BucketPolicy:
    return (
        builder()
        .allow_cloudfront_ingest(INGEST_ARN, actions=ingest_actions)
        .allow_cloudfront_read(PLAYBACK_ARN)
        .deny_insecure_transport()
        .build()
    )


def codes(policy: BucketPolicy, **kw: object) -> list[str]:
    return [f.code for f in policy.findings(**kw)]  # type: ignore[arg-type]


# --- exact JSON ---------------------------------------------------------------------------


def test_exact_json() -> None:
    expected = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudFrontIngest",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": "arn:aws:s3:::live-origin/live/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": INGEST_ARN}},
            },
            {
                "Sid": "CloudFrontPlayback",
                "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::live-origin/*",
                "Condition": {"StringEquals": {"AWS:SourceArn": PLAYBACK_ARN}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::live-origin", "arn:aws:s3:::live-origin/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    policy = (
        builder()
        .allow_cloudfront_ingest("E1INGEST", actions=("s3:PutObject", "s3:DeleteObject"),
                                 key_prefix="live/")
        .allow_cloudfront_read(PLAYBACK_ARN)
        .deny_insecure_transport()
        .build()
    )
    # Compact, key order as AWS writes it, byte for byte.
    assert policy.to_json() == json.dumps(expected, separators=(",", ":"))
    assert json.loads(policy.to_json(indent=2)) == expected
    assert policy.findings() == ()


def test_arn_helpers() -> None:
    assert bucket_arn(BUCKET) == "arn:aws:s3:::live-origin"
    assert s3_object_arn(BUCKET, "/live/seg1.ts") == "arn:aws:s3:::live-origin/live/seg1.ts"
    assert bucket_arn(BUCKET, partition="aws-cn") == "arn:aws-cn:s3:::live-origin"
    assert distribution_arn(ACCOUNT, "E1INGEST") == INGEST_ARN
    for bad in ("ab", "Live", "-live", "live-", "a..b", "192.168.1.1", "xn--live",
                "live-s3alias", "x" * 64, 7):
        with pytest.raises(InvalidInputError):
            check_bucket_name(bad)
    assert check_bucket_name("my.live-1") == "my.live-1"
    with pytest.raises(InvalidInputError):
        bucket_arn(BUCKET, partition="aws-mars")
    with pytest.raises(InvalidInputError):
        distribution_arn("1234", "E1")
    with pytest.raises(InvalidInputError):
        distribution_arn(ACCOUNT, "e1-lower")


def test_builder_input_checks() -> None:
    with pytest.raises(InvalidInputError, match="bucket"):
        BucketPolicyBuilder(bucket="Bad_Bucket", account_id=ACCOUNT)
    with pytest.raises(InvalidInputError, match="12 digits"):
        BucketPolicyBuilder(bucket=BUCKET, account_id="123")
    b = builder()
    for bad_arn in ("arn:aws:cloudfront:123456789012:distribution/E1",  # missing '::'
                    "arn:aws:s3:::live-origin", "", "https://d1.cloudfront.net"):
        with pytest.raises(InvalidInputError, match="distribution"):
            b.allow_cloudfront_ingest(bad_arn)
    for bad_action in ("s3:*", "s3:Put*", "mediastore:PutObject", "*"):
        with pytest.raises(InvalidInputError, match="S3 object action"):
            b.allow_cloudfront_ingest(INGEST_ARN, actions=(bad_action,))
    with pytest.raises(InvalidInputError):
        b.allow_cloudfront_ingest(INGEST_ARN, actions=())
    with pytest.raises(InvalidInputError, match="key_prefix"):
        b.allow_cloudfront_ingest(INGEST_ARN, key_prefix="live?/")
    with pytest.raises(ContainerPolicyError, match="no statement"):
        b.build()
    # The builder is immutable: a failed or successful call leaves it as it was.
    b.allow_cloudfront_ingest(INGEST_ARN)
    assert b.statements == ()


def test_builder_refuses_one_distribution_for_ingest_and_playback() -> None:
    with pytest.raises(ContainerPolicyError, match="writes to the playback distribution"):
        builder().allow_cloudfront_ingest(INGEST_ARN).allow_cloudfront_read(INGEST_ARN)
    with pytest.raises(ContainerPolicyError, match="playback distribution"):
        builder().allow_cloudfront_read(PLAYBACK_ARN).allow_cloudfront_ingest(PLAYBACK_ARN)
    with pytest.raises(ContainerPolicyError, match="Sid"):
        builder().allow_cloudfront_ingest(INGEST_ARN).allow_cloudfront_ingest(OTHER_ARN)
    # Distinct Sids make two ingest distributions fine.
    two = builder().allow_cloudfront_ingest(INGEST_ARN).allow_cloudfront_ingest(
        OTHER_ARN, sid="SecondIngest").build()
    assert len(two.statements) == 2


# --- findings -----------------------------------------------------------------------------


def _allow(sid: str | None, principal: Principal, actions: tuple[str, ...],
           *conditions: Condition) -> Statement:
    return Statement(sid=sid, effect="Allow", principal=principal, actions=actions,
                     resources=(s3_object_arn(BUCKET, "*"),), conditions=conditions)


def _source(arn: str) -> Condition:
    return Condition("StringEquals", "AWS:SourceArn", (arn,))


def test_public_write_without_source_arn() -> None:
    anyone = BucketPolicy(statements=[_allow("Open", Principal.anyone(), ("s3:PutObject",))])
    assert codes(anyone) == ["public-write"]
    finding = anyone.findings()[0]
    assert (finding.severity, finding.sid, finding.index) == ("error", "Open", 0)
    assert "anyone" in finding.message
    # The CloudFront principal without SourceArn: any distribution of any account.
    service = BucketPolicy(statements=[
        _allow("Cf", Principal(service=CF), ("s3:DeleteObject",))])
    assert codes(service) == ["public-write"]
    assert "any CloudFront distribution" in service.findings()[0].message
    # NotPrincipal counts as public; "s3:*" grants PutObject.
    not_principal = BucketPolicy(statements=[Statement(
        effect="Allow", not_principal=Principal(aws=f"arn:aws:iam::{ACCOUNT}:root"),
        actions=("s3:*",), resources=("*",))])
    assert codes(not_principal) == ["public-write"]
    # With a SourceArn naming a distribution: no finding.
    scoped = BucketPolicy(statements=[
        _allow("Cf", Principal(service=CF), ("s3:PutObject",), _source(INGEST_ARN))])
    assert codes(scoped) == []
    # A SourceArn of '*' scopes nothing.
    star = BucketPolicy(statements=[_allow(
        "Cf", Principal(service=CF), ("s3:PutObject",),
        Condition("StringLike", "AWS:SourceArn", ("*",)))])
    assert codes(star) == ["public-write"]
    # Reads by anyone are not this lint's business; an account principal writing is fine.
    reads = BucketPolicy(statements=[_allow("R", Principal.anyone(), ("s3:GetObject",))])
    assert codes(reads) == []
    account = BucketPolicy(statements=[_allow(
        "A", Principal(aws=f"arn:aws:iam::{ACCOUNT}:root"), ("s3:PutObject",))])
    assert codes(account) == []


def test_unscoped_cloudfront_read_is_a_warning() -> None:
    policy = BucketPolicy(statements=[_allow("R", Principal(service=CF), ("s3:GetObject",))])
    [finding] = policy.findings()
    assert (finding.code, finding.severity) == ("unscoped-cloudfront", "warning")


def test_shared_distribution() -> None:
    policy = BucketPolicy(statements=[
        _allow("Ingest", Principal(service=CF), ("s3:PutObject",), _source(INGEST_ARN)),
        _allow("Playback", Principal(service=CF), ("s3:GetObject",), _source(INGEST_ARN)),
    ])
    [finding] = policy.findings()
    assert finding.code == "shared-distribution"
    assert finding.index == 1
    assert "Statement[0]" in finding.message
    # One ingest statement granting Put and Get to its own distribution is not sharing.
    alone = BucketPolicy(statements=[
        _allow("Ingest", Principal(service=CF), S3_INGEST_ACTIONS, _source(INGEST_ARN))])
    assert codes(alone) == []


def test_write_granted_to_the_playback_distribution() -> None:
    policy = BucketPolicy(statements=[
        _allow("Oops", Principal(service=CF), ("s3:PutObject",), _source(PLAYBACK_ARN))])
    assert codes(policy) == []  # without knowing which one is playback, nothing to say
    [finding] = policy.findings(playback_distributions=[PLAYBACK_ARN])
    assert finding.code == "playback-write"
    assert PLAYBACK_ARN in finding.message
    assert codes(full_policy(), playback_distributions=[PLAYBACK_ARN]) == []


def test_duplicate_sid_and_non_ascii() -> None:
    dup = BucketPolicy(statements=[
        _allow("Same", Principal(service=CF), ("s3:PutObject",), _source(INGEST_ARN)),
        _allow("Same", Principal(service=CF), ("s3:GetObject",), _source(PLAYBACK_ARN)),
    ])
    assert codes(dup) == ["duplicate-sid"]
    accented = BucketPolicy(statements=[
        _allow("Caf\u00e9", Principal(service=CF), ("s3:GetObject",), _source(PLAYBACK_ARN))])
    assert codes(accented) == ["non-ascii"]
    with pytest.raises(ContainerPolicyError, match="non-ASCII"):
        accented.to_json()
    with pytest.raises(ContainerPolicyError, match="non-ASCII"):
        builder().allow_cloudfront_read(PLAYBACK_ARN, sid="Lecture\u00e9")


def _padded(n: int) -> BucketPolicy:
    return BucketPolicy(statements=[
        _allow(f"Playback{i:04d}", Principal(service=CF), ("s3:GetObject",),
               _source(f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{i:012d}"))
        for i in range(n)
    ])


def test_size_limit_is_s3s_20_kb_not_mediastores_8192() -> None:
    per_statement = len(_padded(2).to_json()) - len(_padded(1).to_json())
    # Larger than a MediaStore container policy may be, yet fine for S3.
    mid = _padded(MAX_POLICY_LENGTH // per_statement + 2)
    assert MAX_POLICY_LENGTH < len(mid.to_json()) <= MAX_BUCKET_POLICY_BYTES
    assert codes(mid) == []
    with pytest.raises(ContainerPolicyError):
        ContainerPolicy(statements=mid.statements).to_json()
    big = _padded(MAX_BUCKET_POLICY_BYTES // per_statement + 2)
    assert codes(big) == ["policy-too-large"]
    assert "20480" in big.findings()[0].message
    with pytest.raises(ContainerPolicyError, match="20480"):
        big.to_json()
    # The limit is on bytes: a policy at exactly the limit passes, one byte more fails.
    assert MAX_BUCKET_POLICY_BYTES == 20480


# --- parse / serialise round trip ---------------------------------------------------------

_bucket = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
_dist_id = st.from_regex(r"E[A-Z0-9]{5,13}", fullmatch=True)
_prefix = st.from_regex(r"(?:[a-z0-9]{1,8}/){0,2}", fullmatch=True)
_actions = st.lists(st.sampled_from(S3_INGEST_ACTIONS), min_size=1, max_size=3, unique=True)


@given(bucket=_bucket, ingest=_dist_id, playback=_dist_id, prefix=_prefix,
       actions=_actions, deny=st.booleans())
def test_built_policies_round_trip(bucket: str, ingest: str, playback: str, prefix: str,
                                   actions: list[str], deny: bool) -> None:
    b = BucketPolicyBuilder(bucket=bucket, account_id=ACCOUNT).allow_cloudfront_ingest(
        ingest, actions=actions, key_prefix=prefix)
    if playback != ingest:
        b = b.allow_cloudfront_read(playback, key_prefix=prefix)
    if deny:
        b = b.deny_insecure_transport()
    policy = b.build()
    assert BucketPolicy.from_json(policy.to_json()) == policy
    assert BucketPolicy.from_json(policy.to_json(indent=4)) == policy
    assert BucketPolicy.from_dict(json.loads(policy.to_json())) == policy
    assert policy.findings() == ()


_principals = st.one_of(
    st.just(Principal.anyone()),
    st.builds(lambda s: Principal(service=s), st.sampled_from([CF, "s3.amazonaws.com"])),
    st.builds(lambda a: Principal(aws=f"arn:aws:iam::{a}:root"),
              st.from_regex(r"[0-9]{12}", fullmatch=True)),
)
_conditions = st.lists(
    st.builds(Condition,
              st.sampled_from(["StringEquals", "ArnLike", "Bool", "StringNotEquals"]),
              st.sampled_from(["AWS:SourceArn", "aws:SecureTransport", "aws:SourceAccount"]),
              st.lists(st.text("abcdefxyz:/*-0123456789", min_size=1, max_size=30),
                       min_size=1, max_size=3).map(tuple)),
    max_size=3, unique_by=lambda c: (c.operator, c.key),
)
_statements = st.builds(
    lambda sid, effect, principal, actions, resources, conditions: Statement(
        sid=sid, effect=effect, principal=principal, actions=tuple(actions),
        resources=tuple(resources), conditions=conditions),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9]{1,20}", fullmatch=True)),
    st.sampled_from(["Allow", "Deny"]),
    _principals,
    st.lists(st.sampled_from(["s3:PutObject", "s3:GetObject", "s3:*", "s3:DeleteObject"]),
             min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from([bucket_arn(BUCKET), s3_object_arn(BUCKET, "*"),
                              s3_object_arn(BUCKET, "live/*")]),
             min_size=1, max_size=3, unique=True),
    _conditions,
)


@given(st.lists(_statements, min_size=1, max_size=5))
def test_any_bucket_policy_round_trips(statements: list[Statement]) -> None:
    policy = BucketPolicy(statements=statements)
    assert BucketPolicy.from_json(policy.to_json()) == policy
    # Lint never crashes and reports only known codes.
    assert set(codes(policy)) <= {"public-write", "unscoped-cloudfront", "shared-distribution",
                                  "duplicate-sid"}


# --- offline evaluation: the decision table -----------------------------------------------

ALLOW, EXPLICIT, IMPLICIT = Decision.ALLOW, Decision.EXPLICIT_DENY, Decision.IMPLICIT_DENY
CALLERS = {
    "ingest": (CF, INGEST_ARN),
    "playback": (CF, PLAYBACK_ARN),
    "other": (CF, OTHER_ARN),
    "anonymous": (None, None),
}
# (caller, action) -> decision over HTTPS, for the provisioner's policy
# (ingest: Put/Delete/Get; playback: Get; deny over HTTP).
HTTPS_TABLE = {
    ("ingest", "s3:PutObject"): ALLOW,
    ("ingest", "s3:GetObject"): ALLOW,
    ("ingest", "s3:DeleteObject"): ALLOW,
    ("playback", "s3:PutObject"): IMPLICIT,
    ("playback", "s3:GetObject"): ALLOW,
    ("playback", "s3:DeleteObject"): IMPLICIT,
    ("other", "s3:PutObject"): IMPLICIT,
    ("other", "s3:GetObject"): IMPLICIT,
    ("other", "s3:DeleteObject"): IMPLICIT,
    ("anonymous", "s3:PutObject"): IMPLICIT,
    ("anonymous", "s3:GetObject"): IMPLICIT,
    ("anonymous", "s3:DeleteObject"): IMPLICIT,
}


@pytest.mark.parametrize("secure", [True, False], ids=["https", "http"])
@pytest.mark.parametrize(("caller", "action"), sorted(HTTPS_TABLE))
def test_decision_table(caller: str, action: str, secure: bool) -> None:
    policy = full_policy(S3_INGEST_ACTIONS)
    principal, source_arn = CALLERS[caller]
    ctx = RequestContext(
        action=action, resource=s3_object_arn(BUCKET, "live/seg1.ts"),
        principal=principal, source_arn=source_arn, secure_transport=secure,
    )
    result = evaluate_container_policy(policy, ctx)
    expected = HTTPS_TABLE[(caller, action)] if secure else EXPLICIT
    assert result.decision is expected, result.reason
    if expected is EXPLICIT:
        assert result.sid == "DenyInsecureTransport"


def test_decision_follows_the_key_prefix_and_the_bucket() -> None:
    policy = builder().allow_cloudfront_ingest(INGEST_ARN, key_prefix="live/").build()

    def put(key: str, bucket: str = BUCKET) -> Decision:
        ctx = RequestContext(action="s3:PutObject", resource=s3_object_arn(bucket, key),
                             principal=CF, source_arn=INGEST_ARN)
        return evaluate_container_policy(policy, ctx).decision

    assert put("live/seg1.ts") is ALLOW
    assert put("vod/seg1.ts") is IMPLICIT
    assert put("live/seg1.ts", bucket="other-bucket") is IMPLICIT
    # Without the deny statement plain HTTP is not refused by the policy itself.
    ctx = RequestContext(action="s3:PutObject", resource=s3_object_arn(BUCKET, "live/a.ts"),
                         principal=CF, source_arn=INGEST_ARN, secure_transport=False)
    assert evaluate_container_policy(policy, ctx).decision is ALLOW


def test_an_iam_principal_with_the_source_arn_is_not_cloudfront() -> None:
    ctx = RequestContext(action="s3:PutObject", resource=s3_object_arn(BUCKET, "a.ts"),
                         principal=f"arn:aws:iam::{ACCOUNT}:user/encoder",
                         source_arn=INGEST_ARN)
    assert evaluate_container_policy(full_policy(), ctx).decision is IMPLICIT


def test_a_single_playback_distribution_is_one_item() -> None:
    arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E3PLAYBACK"
    policy = builder().allow_cloudfront_ingest(arn).build()
    assert [f.code for f in policy.findings(playback_distributions=arn)] == ["playback-write"]


def test_tuples_none_and_a_single_action_are_still_taken() -> None:
    """The input checks refuse only what was already broken."""
    bucket = builder().allow_cloudfront_ingest("E2EXAMPLE", actions="s3:PutObject").build()
    assert bucket.findings(playback_distributions=("E3PLAYBACK",)) == ()
    assert bucket.findings(playback_distributions=None) == ()


# --- CLI ------------------------------------------------------------------------------------


@pytest.fixture
def only_this_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_package, "_COMMAND_MODULES", ("._bucket_policy",))


def test_cli_registers_the_bucket_policy_command() -> None:
    assert "._bucket_policy" in cli_package._COMMAND_MODULES


def test_cli_prints_the_policy(only_this_command: None,
                               capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(["bucket-policy", "--bucket", BUCKET, "--account-id", ACCOUNT,
                     "--ingest-distribution", "E1INGEST", "--ingest-action", "s3:PutObject",
                     "--ingest-action", "s3:DeleteObject", "--key-prefix", "live/",
                     "--playback-distribution", PLAYBACK_ARN])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert BucketPolicy.from_json(out) == (
        builder()
        .allow_cloudfront_ingest(INGEST_ARN, actions=("s3:PutObject", "s3:DeleteObject"),
                                 key_prefix="live/")
        .allow_cloudfront_read(PLAYBACK_ARN, key_prefix="live/")
        .deny_insecure_transport()
        .build()
    )
    assert err == ""

    assert cli_main(["bucket-policy", "--bucket", BUCKET, "--account-id", ACCOUNT,
                     "--ingest-distribution", "E1INGEST", "--allow-insecure-transport"]) == 0
    sids = [s["Sid"] for s in json.loads(capsys.readouterr().out)["Statement"]]
    assert sids == ["CloudFrontIngest"]


def test_cli_errors_are_one_line(only_this_command: None,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["bucket-policy", "--bucket", BUCKET],
        ["bucket-policy", "--bucket", BUCKET, "--account-id", ACCOUNT],
        ["bucket-policy", "--bucket", BUCKET, "--account-id", ACCOUNT,
         "--ingest-distribution", PLAYBACK_ARN, "--playback-distribution", PLAYBACK_ARN],
        ["bucket-policy", "--bucket", "Bad_Name", "--account-id", ACCOUNT,
         "--ingest-distribution", "E1"],
    ):
        assert cli_main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err


def test_cli_check(only_this_command: None, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.json"
    good.write_text(full_policy().to_json())
    assert cli_main(["bucket-policy", "--check", str(good)]) == 0
    assert "no findings" in capsys.readouterr().err

    bad = tmp_path / "bad.json"
    bad.write_text(BucketPolicy(statements=[
        _allow("Oops", Principal(service=CF), ("s3:PutObject",), _source(PLAYBACK_ARN)),
        _allow("Open", Principal.anyone(), ("s3:PutObject",)),
    ]).to_json())
    assert cli_main(["bucket-policy", "--check", str(bad),
                     "--playback-distribution", PLAYBACK_ARN]) == 1
    err = capsys.readouterr().err
    assert "[playback-write]" in err
    assert "[public-write]" in err

    assert cli_main(["bucket-policy", "--check", str(good), "--bucket", BUCKET]) == 2
    assert cli_main(["bucket-policy", "--check", str(tmp_path / "missing.json")]) == 2
