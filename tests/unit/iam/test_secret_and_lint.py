"""The ingest secret and the way policy modules mention one; the document model read
strictly; the lint as its own module."""

from __future__ import annotations

import pytest

import mediastore_ingest.iam as iam
from mediastore_ingest.errors import ContainerPolicyError, InvalidInputError
from mediastore_ingest.iam.document import (
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
    check_statements,
)
from mediastore_ingest.iam.lint import Finding, policy_findings
from mediastore_ingest.iam.secret import (
    MIN_SECRET_LENGTH,
    USER_AGENT_PREFIX,
    IngestSecret,
    holds_secret,
    masked,
    shown_hiding_secret,
)

SECRET = IngestSecret("S3cretS3cretS3cretS3cretS3cret")


def _ingest_statement(user_agent: str, sid: str = "Ingest") -> Statement:
    return Statement(
        sid=sid,
        effect="Allow",
        principal=Principal.anyone(),
        actions=("mediastore:PutObject",),
        resources=("arn:aws:mediastore:us-west-2:111122223333:container/live/*",),
        conditions=(
            Condition("StringEquals", "aws:UserAgent", (user_agent,)),
            Condition("Bool", "aws:SecureTransport", ("true",)),
        ),
    )


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("MediaStore-Secret-abc", True),
        ("x mediastore-secret-abc", True),
        ("MEDIASTORE-SECRET-", True),
        ("MediaStore-Secret", False),
        ("live", False),
    ],
)
def test_holds_secret_finds_the_prefix_in_any_case(text: str, secret: bool) -> None:
    assert holds_secret(text) is secret


def test_shown_hiding_secret() -> None:
    assert shown_hiding_secret("us-west-2") == "'us-west-2'"
    assert shown_hiding_secret(12) == "12"
    assert shown_hiding_secret(None) == "None"
    assert shown_hiding_secret(SECRET.user_agent) == (
        f"a str of {len(SECRET.user_agent)} characters (not shown)"
    )
    assert shown_hiding_secret("x" * 61) == "a str of 61 characters (not shown)"
    assert shown_hiding_secret("x" * 100, 255) == repr("x" * 100)
    assert shown_hiding_secret(("MediaStore-Secret-a",)) == "tuple"


def test_masked_shows_a_few_characters_of_a_long_secret_only() -> None:
    assert masked(SECRET.user_agent) == USER_AGENT_PREFIX + "S3c…"
    assert masked(USER_AGENT_PREFIX + "short") == USER_AGENT_PREFIX + "…"
    assert masked("no-prefix-but-long-enough") == "no-…"


def test_a_condition_repr_masks_the_secret() -> None:
    cond = Condition("StringEquals", "aws:UserAgent", (SECRET.user_agent,))
    assert SECRET.value not in repr(cond)
    assert masked(SECRET.user_agent) in repr(cond)


@pytest.mark.parametrize(
    ("length", "rng", "match"),
    [
        (MIN_SECRET_LENGTH - 1, None, "length"),
        (True, None, "length"),
        ("40", None, "length"),
        (40, "abc", "rng"),
    ],
)
def test_generate_refuses_bad_arguments(length: object, rng: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        IngestSecret.generate(length, rng=rng)  # type: ignore[arg-type]


def test_generate_with_a_seeded_chooser() -> None:
    secret = IngestSecret.generate(MIN_SECRET_LENGTH, rng=lambda alphabet: alphabet[0])
    assert secret.value == "a" * MIN_SECRET_LENGTH
    assert secret.user_agent == USER_AGENT_PREFIX + secret.value


def test_check_statements_names_types_never_values() -> None:
    statement = _ingest_statement(SECRET.user_agent)
    assert check_statements([statement]) == (statement,)
    for bad in ({"Sid": SECRET.user_agent}, SECRET.user_agent, 5):
        with pytest.raises(InvalidInputError) as info:
            check_statements(bad)
        assert SECRET.value not in str(info.value)
    with pytest.raises(InvalidInputError, match="must hold Statement objects, got dict"):
        check_statements([{"Condition": SECRET.user_agent}])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"Statement":[],"Statement":[]}', "duplicate key 'Statement' in the policy"),
        ('{"Version":NaN}', "NaN is not valid in the policy"),
        ('{"Statement":' + "[" * 100 + "]" * 100 + "}", "nested too deeply"),
        (b'{"Statement": "\xff"}', "not UTF-8"),
        ("{", "the policy is not valid JSON"),
        (bytearray(b"{}"), "expected JSON text, got bytearray"),
        (None, "expected JSON text, got NoneType"),
    ],
)
def test_policies_are_read_strictly(text: object, match: str) -> None:
    with pytest.raises(ContainerPolicyError, match=match):
        ContainerPolicy.from_json(text)  # type: ignore[arg-type]


def test_a_policy_reads_back_from_its_json_text_and_bytes() -> None:
    policy = ContainerPolicy(statements=(_ingest_statement(SECRET.user_agent),))
    assert ContainerPolicy.from_json(policy.to_json()) == policy
    assert ContainerPolicy.from_json(policy.to_json().encode()) == policy


@pytest.mark.parametrize("indent", [[2], 2.5, b" "])
def test_to_json_refuses_an_indent_json_does_not_take(indent: object) -> None:
    policy = ContainerPolicy(statements=(_ingest_statement(SECRET.user_agent),))
    with pytest.raises(InvalidInputError, match="indent must be None or an int or a str"):
        policy.to_json(indent=indent)  # type: ignore[arg-type]


def test_findings_come_from_the_lint_module() -> None:
    short = USER_AGENT_PREFIX + "tooshort"
    policy = ContainerPolicy(
        statements=(_ingest_statement(short), _ingest_statement(short, sid="Ingest"))
    )
    found = policy.findings(known_secrets=[SECRET])
    assert found == policy_findings(policy, [SECRET])
    assert all(isinstance(f, Finding) for f in found)
    assert {f.code for f in found} == {"short-secret", "unknown-secret", "duplicate-sid"}
    assert all("tooshort" not in f.message for f in found)


def test_known_secrets_must_be_ingest_secrets() -> None:
    policy = ContainerPolicy(statements=(_ingest_statement(SECRET.user_agent),))
    with pytest.raises(InvalidInputError, match=r"wrap the value: IngestSecret\(value\)") as info:
        policy.findings(known_secrets=[SECRET.value])  # type: ignore[list-item]
    assert SECRET.value not in str(info.value)
    with pytest.raises(InvalidInputError, match="known_secrets must be an iterable"):
        policy.findings(known_secrets=SECRET)  # type: ignore[arg-type]


def test_the_iam_package_offers_the_document_lint_secret_and_evaluation() -> None:
    assert iam.IngestSecret is IngestSecret
    assert iam.Finding is Finding
    assert iam.ContainerPolicy is ContainerPolicy
    assert {"evaluate_container_policy", "RequestContext", "Severity"} <= set(iam.__all__)
    # MediaStore's builder and ARNs are the origin's, one layer up
    assert "ContainerPolicyBuilder" not in iam.__all__
