"""Audit findings on keys, provisioning, container and bucket policies.

Each test reproduces one finding: key material or an ingest secret echoed in an error
(or in its ``__cause__``/``__context__``), a key pair write that replaced the private
key before failing, and inputs on which a public entry point let a bare
``TypeError``/``ValueError``/``RecursionError``/``UnicodeEncodeError`` escape instead of
a typed :class:`~mediastore_ingest.errors.MediaStoreIngestError`.

No code of this package is mocked. AWS is replaced by a tiny fake client (a class with
the one method the provisioner calls), and one test makes :func:`os.replace` fail for
one path, to reach the rename failure a real disk gives only by accident.
"""

from __future__ import annotations

import base64
import json
import os
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mediastore_ingest.cli import main as cli_main
from mediastore_ingest.errors import (
    ContainerPolicyError,
    InvalidInputError,
    KeyLoadError,
    KeyMaterialError,
    MediaStoreIngestError,
    ProvisioningError,
)
from mediastore_ingest.iam.document import (
    Condition,
    ContainerPolicy,
    Principal,
    Statement,
)
from mediastore_ingest.iam.evaluate import RequestContext, evaluate_container_policy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.mediastore import ContainerPolicyBuilder
from mediastore_ingest.origins.s3 import BucketPolicy, BucketPolicyBuilder
from mediastore_ingest.provisioning import (
    IngestSetup,
    Provisioner,
    ProvisioningSpec,
    live_cors_rules,
    live_lifecycle_policy,
)
from mediastore_ingest.signing.keys import (
    generate_key_pair,
    load_private_key,
    load_public_key,
    public_key_pem,
)
from mediastore_ingest.signing.signer import UrlSigner

REGION = "us-west-2"
ACCOUNT = "111122223333"
SECRET = IngestSecret("AuditIngestSecretValue0123456789abcdef")
OTHER = IngestSecret("AuditPlaybackSecretValue9876543210zyxwv")
POSIX = os.name == "posix"


def _public_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


PUBLIC_PEM = _public_pem()


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _everything_shown(exc: BaseException) -> str:
    """The traceback as printed, plus str/repr/args of every chained exception."""
    parts = ["".join(traceback.format_exception(exc))]
    for e in _chain(exc):
        parts += [str(e), repr(e), repr(e.args)]
    return "\n".join(parts)


def assert_hidden(exc: BaseException, *secrets: str) -> None:
    shown = _everything_shown(exc)
    for secret in secrets:
        assert secret not in shown
        middle = secret[len(secret) // 3 : len(secret) // 3 + 16]
        assert middle not in shown


# --- H1: key material given as a str is never echoed ----------------------------------


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


@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_base64_private_key_text_is_not_echoed(
    kind: str, rsa_key: rsa.RSAPrivateKey, ec_key: ec.EllipticCurvePrivateKey
) -> None:
    key = rsa_key if kind == "rsa" else ec_key
    for text in (_b64_der_private(key), _pem_body(key)):
        with pytest.raises(KeyLoadError, match=r"neither PEM text \(.*\) nor the path") as info:
            load_private_key(text)
        assert_hidden(info.value, text, text.replace("\n", ""))
        with pytest.raises(KeyLoadError) as info:
            UrlSigner("K1", text)
        assert_hidden(info.value, text, text.replace("\n", ""))


def test_base64_public_key_text_is_not_echoed(rsa_key: rsa.RSAPrivateKey) -> None:
    der = rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b64encode(der).decode()
    with pytest.raises(KeyLoadError, match=r"neither PEM text \(.*\) nor the path") as info:
        load_public_key(text)
    assert_hidden(info.value, text)


def test_a_plausible_missing_path_is_still_named(tmp_path: Path) -> None:
    path = str(tmp_path / "keys" / "cloudfront.pem")
    with pytest.raises(KeyLoadError, match="does not exist") as info:
        load_private_key(path)
    assert repr(path) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_a_lone_surrogate_password_is_a_typed_error(ec_key: ec.EllipticCurvePrivateKey) -> None:
    pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    password = "secret-pass\ud800word"
    with pytest.raises(InvalidInputError, match="password") as info:
        load_private_key(pem, password=password)
    assert_hidden(info.value, password)


# --- H2: the ingest secret never appears in a message ----------------------------------


@pytest.mark.parametrize("field", ["ingest_secret", "playback_secret"])
@pytest.mark.parametrize("value", [SECRET.value, SECRET.user_agent, SECRET.value.encode()],
                         ids=["value", "user-agent", "bytes"])
def test_spec_refuses_a_raw_secret_without_showing_it(field: str, value: Any) -> None:
    kwargs: dict[str, Any] = {"ingest_secret": OTHER, "playback_secret": OTHER}
    kwargs[field] = value
    if field == "ingest_secret":
        kwargs["playback"] = False
        del kwargs["playback_secret"]
    with pytest.raises(InvalidInputError, match="IngestSecret") as info:
        ProvisioningSpec(container_name="live", public_key_pem=PUBLIC_PEM, **kwargs)
    assert type(value).__name__ in str(info.value)
    assert field in str(info.value)
    assert_hidden(info.value, SECRET.value)


def _statement(**overrides: Any) -> Statement:
    fields: dict[str, Any] = {
        "effect": "Allow",
        "principal": Principal.anyone(),
        "actions": ("mediastore:PutObject",),
        "resources": ("*",),
    }
    fields.update(overrides)
    return Statement(**fields)


def test_condition_tuples_are_refused_without_the_secret() -> None:
    with pytest.raises(ContainerPolicyError, match="tuple") as info:
        _statement(conditions=[("StringEquals", "aws:UserAgent", SECRET.user_agent)])
    assert_hidden(info.value, SECRET.value)


def test_statement_dicts_are_refused_without_the_secret() -> None:
    document = {
        "Effect": "Allow", "Principal": "*", "Action": "mediastore:PutObject",
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:UserAgent": SECRET.user_agent}},
    }
    with pytest.raises(ContainerPolicyError, match="dict") as info:
        ContainerPolicy(statements=[document])  # type: ignore[list-item]
    assert_hidden(info.value, SECRET.value)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Condition("StringEquals", "aws:UserAgent", [SECRET.user_agent.encode()]),
        lambda: _statement(principal={"AWS": SECRET.user_agent}),
        lambda: _statement(not_principal=[SECRET.user_agent], principal=None),
        lambda: _statement(sid=[SECRET.user_agent]),
        lambda: _statement(effect=SECRET.user_agent),
        lambda: ContainerPolicy(statements=[_statement()], policy_id=[SECRET.user_agent]),
        lambda: ContainerPolicy(statements=[_statement()], version=SECRET.user_agent),
        lambda: ContainerPolicy.from_json(json.dumps({
            "Version": "2012-10-17",
            "Statement": {"Effect": "Allow", "Principal": "*", "Action": "mediastore:Get*",
                          "Resource": "*", "Condition": {"StringEquals": {
                              "aws:UserAgent": {"v": SECRET.user_agent}}}},
        })),
        lambda: ContainerPolicy.from_json(json.dumps({
            "Version": "2012-10-17",
            "Statement": {"Effect": [SECRET.user_agent], "Principal": "*",
                          "Action": "mediastore:Get*", "Resource": "*"},
        })),
        lambda: ContainerPolicy.from_json(json.dumps({
            "Version": {"v": SECRET.user_agent}, "Statement": [],
        })),
    ],
    ids=["bytes-value", "principal-dict", "not-principal-list", "sid-list",
         "effect", "policy-id", "version", "json-condition-object", "json-effect-list",
         "json-version"],
)
def test_other_refused_values_never_show_a_secret(build: Callable[[], object]) -> None:
    with pytest.raises(ContainerPolicyError) as info:
        build()
    assert_hidden(info.value, SECRET.value)


def test_findings_known_secrets_must_be_ingest_secrets() -> None:
    policy = ContainerPolicy(statements=[_statement()])
    with pytest.raises(InvalidInputError, match="IngestSecret") as info:
        policy.findings(known_secrets=[SECRET.value])  # type: ignore[list-item]
    assert_hidden(info.value, SECRET.value)
    with pytest.raises(InvalidInputError, match="IngestSecret"):
        policy.findings(known_secrets=SECRET)  # type: ignore[arg-type]
    assert policy.findings(known_secrets=[SECRET]) == policy.findings(known_secrets=(SECRET,))


# --- H3: writing a key pair replaces every file or none --------------------------------


def _snapshot(directory: Path) -> dict[str, str | None]:
    return {
        p.name: (p.read_text() if p.is_file() else None) for p in sorted(directory.iterdir())
    }


def test_a_directory_as_public_target_leaves_the_private_key_alone(tmp_path: Path) -> None:
    priv, pubdir = tmp_path / "priv.pem", tmp_path / "pubdir"
    priv.write_text("ORIGINAL-KEY")
    pubdir.mkdir()
    before = _snapshot(tmp_path)
    with pytest.raises(KeyMaterialError) as info:
        generate_key_pair(priv, pubdir, algorithm="ecdsa", overwrite=True)
    message = str(info.value)
    assert str(pubdir) in message
    assert ".tmp" not in message
    assert priv.read_text() == "ORIGINAL-KEY"
    assert _snapshot(tmp_path) == before
    assert list(pubdir.iterdir()) == []


def test_a_directory_as_private_target_is_named(tmp_path: Path) -> None:
    privdir, pub = tmp_path / "privdir", tmp_path / "pub.pem"
    privdir.mkdir()
    pub.write_text("ORIGINAL-PUB")
    with pytest.raises(KeyMaterialError, match="directory") as info:
        generate_key_pair(privdir, pub, algorithm="ecdsa", overwrite=True)
    assert str(privdir) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert pub.read_text() == "ORIGINAL-PUB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["privdir", "pub.pem"]


def test_a_missing_public_parent_is_found_before_anything_is_written(tmp_path: Path) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "nope" / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    before = _snapshot(tmp_path)
    with pytest.raises(KeyMaterialError, match="cannot write") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    assert str(pub) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert _snapshot(tmp_path) == before


def _failing_replace(
    monkeypatch: pytest.MonkeyPatch, fail_for: Path
) -> list[tuple[str, str]]:
    """Make ``os.replace`` of a new temporary file onto ``fail_for`` fail as a full disk
    would (putting a backup back still works); record every call."""
    real = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        calls.append((os.fspath(src), os.fspath(dst)))
        if os.path.abspath(dst) == os.path.abspath(fail_for) and str(src).endswith(".tmp"):
            raise OSError(28, "No space left on device", os.fspath(src))
        real(src, dst, **kw)

    monkeypatch.setattr(os, "replace", replace)
    return calls


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-links", "no-hard-links"])
@pytest.mark.parametrize("failing", ["private", "public"])
def test_a_failed_rename_restores_both_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, hard_links: bool
) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    if POSIX:
        priv.chmod(0o600)
    before = _snapshot(tmp_path)
    target = priv if failing == "private" else pub
    _failing_replace(monkeypatch, target)
    if not hard_links:  # as on a file system without them: the old file is moved aside

        def no_link(*args: Any, **kwargs: Any) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    with pytest.raises(KeyMaterialError, match="cannot write") as info:
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    assert str(target) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert _snapshot(tmp_path) == before  # both originals back, no temporary file left
    if POSIX:
        assert priv.stat().st_mode & 0o777 == 0o600


def test_the_private_key_is_renamed_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    calls = _failing_replace(monkeypatch, tmp_path / "never")
    pair = generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    onto = [os.path.abspath(dst) for _, dst in calls]
    assert onto[-1] == str(priv)
    assert str(pub) in onto
    assert pub.read_text() == pair.public_key_pem()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["priv.pem", "pub.pem"]


@pytest.mark.parametrize("after", ["public", "private"])
def test_an_interrupt_right_after_a_rename_leaves_a_matching_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: str
) -> None:
    """Ctrl-C can land after os.replace returns and before its result is recorded:
    before the private key's rename (the commit point) the old pair comes back, after
    it the new pair stays; the files on disk are a pair either way, and no temporary
    or backup file is left."""
    priv, pub = tmp_path / "priv.pem", tmp_path / "pub.pem"
    priv.write_text("ORIGINAL-KEY")
    pub.write_text("ORIGINAL-PUB")
    real = os.replace
    target = priv if after == "private" else pub

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        real(src, dst, **kw)
        if os.path.abspath(dst) == str(target) and str(src).endswith(".tmp"):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        generate_key_pair(priv, pub, algorithm="ecdsa", overwrite=True)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["priv.pem", "pub.pem"]
    if after == "public":
        assert (priv.read_text(), pub.read_text()) == ("ORIGINAL-KEY", "ORIGINAL-PUB")
    else:
        key = load_private_key(priv)
        assert pub.read_text() == public_key_pem(key)


def test_cli_keygen_force_onto_a_directory_keeps_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("keep_me.pem").write_text("ORIGINAL-KEY")
    Path("pubdir").mkdir()
    code = cli_main(["keygen", "--algorithm", "ecdsa", "--force", "--out", "keep_me.pem",
                     "--public-out", "pubdir"])
    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert err.startswith("mediastore-ingest: error: ")
    assert "pubdir" in err
    assert ".tmp" not in err
    assert Path("keep_me.pem").read_text() == "ORIGINAL-KEY"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep_me.pem", "pubdir"]


# --- M5: a redacted ProvisioningError does not chain the raw AWS error ------------------


class _FakeMediaStore:
    """Stands in for a botocore MediaStore client: DescribeContainer fails."""

    meta = SimpleNamespace(region_name=REGION)

    def __init__(self, error: Exception) -> None:
        self._error = error

    def describe_container(self, **params: object) -> dict[str, Any]:
        raise self._error


def _spec() -> ProvisioningSpec:
    return ProvisioningSpec(
        container_name="live", public_key_pem=PUBLIC_PEM, ingest_secret=SECRET,
        playback_secret=OTHER,
    )


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {"Error": {"Code": "AccessDeniedException",
                       "Message": f"User-Agent {SECRET.user_agent} is not allowed"}},
            "DescribeContainer",
        ),
        ParamValidationError(report=f"Invalid value {OTHER.user_agent} for ContainerName"),
    ],
    ids=["client-error", "param-validation"],
)
def test_redacted_errors_do_not_chain_the_secret(error: Exception) -> None:
    p = Provisioner(mediastore_client=_FakeMediaStore(error), cloudfront_client=object())
    with pytest.raises(ProvisioningError) as info:
        p.plan(_spec())
    assert info.value.operation == "DescribeContainer"
    assert info.value.code in ("AccessDeniedException", "ParamValidationError")
    assert info.value.code in str(info.value)
    assert "DescribeContainer" in str(info.value)
    assert "<hidden>" in str(info.value)
    assert info.value.__cause__ is None
    assert_hidden(info.value, SECRET.value, OTHER.value)


def test_an_error_without_a_secret_still_chains() -> None:
    error = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
        "DescribeContainer",
    )
    p = Provisioner(mediastore_client=_FakeMediaStore(error), cloudfront_client=object())
    with pytest.raises(ProvisioningError) as info:
        p.plan(_spec())
    assert info.value.__cause__ is error


# --- M6: JSON and Unicode edge cases -----------------------------------------------------


def _policy_json(sid: str = "S1", condition_value: str = "true") -> str:
    return (
        '{"Version":"2012-10-17","Statement":[{"Sid":"' + sid + '","Effect":"Deny",'
        '"Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*",'
        '"Condition":{"Bool":{"aws:SecureTransport":"' + condition_value + '"}}}]}'
    )


@pytest.mark.parametrize("cls", [ContainerPolicy, BucketPolicy])
@pytest.mark.parametrize(
    "text",
    [_policy_json(sid="\\ud800"), _policy_json(sid="\ud800"),
     _policy_json(condition_value="a\\udfffb"), _policy_json().replace("b/*", "b/\\udc80")],
    ids=["escaped-sid", "literal-sid", "condition-value", "resource"],
)
def test_lone_surrogates_are_refused_at_parse_time(cls: type[ContainerPolicy], text: str) -> None:
    with pytest.raises(ContainerPolicyError, match="surrogate"):
        cls.from_json(text)


@pytest.mark.parametrize(
    "build",
    [
        lambda: _statement(sid="\ud800"),
        lambda: _statement(resources=("arn:aws:s3:::b/\udc80",)),
        lambda: _statement(principal=Principal(aws="arn:aws:iam::\ud800")),
        lambda: Condition("StringEquals", "aws:UserAgent", ("x\udfff",)),
        lambda: Condition("StringEquals", "aws:\ud800", ("x",)),
        lambda: ContainerPolicy(statements=[_statement()], policy_id="\ud800"),
    ],
    ids=["sid", "resource", "principal", "condition-value", "condition-key", "policy-id"],
)
def test_lone_surrogates_are_refused_at_construction(build: Callable[[], object]) -> None:
    with pytest.raises(ContainerPolicyError, match="surrogate"):
        build()


def test_bucket_builder_refuses_a_surrogate_sid() -> None:
    builder = BucketPolicyBuilder(bucket="live-bucket", account_id=ACCOUNT)
    with pytest.raises(ContainerPolicyError, match="surrogate"):
        builder.add_statement(_statement(sid="\ud800", effect="Deny"))


HUGE_INT = (
    '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*",'
    '"Resource":"*","Condition":{"NumericEquals":{"s3:max-keys":' + "9" * 5000 + "}}}}"
)


@pytest.mark.parametrize("text", [HUGE_INT, "[" * 100_000, "{\"a\":" * 100_000],
                         ids=["5000-digits", "deep-array", "deep-object"])
def test_json_limits_are_typed_errors(text: str) -> None:
    for cls in (ContainerPolicy, BucketPolicy):
        with pytest.raises(ContainerPolicyError):
            cls.from_json(text)
        with pytest.raises(ContainerPolicyError):
            cls.from_json(text.encode())
    ctx = RequestContext(action="s3:GetObject", resource="arn:aws:s3:::b/x")
    with pytest.raises(ContainerPolicyError):
        evaluate_container_policy(text, ctx)


def _setup_document(**overrides: object) -> str:
    doc: dict[str, object] = {
        "format": "mediastore-ingest/setup", "version": 1,
        **dict.fromkeys((
            "container_name", "container_arn", "container_endpoint", "region",
            "public_key_id", "key_group_id", "ingest_distribution_id",
            "ingest_distribution_domain"), "x"),
    }
    doc.update(overrides)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, None, 5, _setup_document(origin="gcs")],
    ids=["deep", "none", "int", "origin-gcs"],
)
def test_ingest_setup_from_json_typed_errors(text: Any) -> None:
    with pytest.raises(InvalidInputError):
        IngestSetup.from_json(text)


def test_ingest_setup_round_trip_still_works() -> None:
    setup = IngestSetup.from_json(_setup_document(origin="s3"))
    assert setup.origin == "s3"
    assert IngestSetup.from_json(setup.to_json()) == setup


@pytest.mark.parametrize("field", ["container_policy", "lifecycle_policy"])
def test_spec_policy_json_nesting_is_a_typed_error(field: str) -> None:
    with pytest.raises(MediaStoreIngestError) as info:
        ProvisioningSpec(container_name="live", public_key_pem=PUBLIC_PEM, ingest_secret=SECRET,
                         playback=False, **{field: "[" * 5000})
    assert isinstance(info.value, ValueError)


# --- LOW: wrong types are typed errors ---------------------------------------------------

BUILDER = ContainerPolicyBuilder(region=REGION, account_id=ACCOUNT, container="live")
BUCKET_BUILDER = BucketPolicyBuilder(bucket="live-bucket", account_id=ACCOUNT)
POLICY = ContainerPolicy(statements=[_statement()])
BUCKET_POLICY = BUCKET_BUILDER.deny_insecure_transport().build()


def _spec_with(**overrides: Any) -> ProvisioningSpec:
    fields: dict[str, Any] = {
        "container_name": "live", "public_key_pem": PUBLIC_PEM, "ingest_secret": SECRET,
        "playback": False,
    }
    fields.update(overrides)
    return ProvisioningSpec(**fields)


WRONG_TYPES: dict[str, Callable[[], object]] = {
    "principal-aws-none": lambda: Principal(aws=None),  # type: ignore[arg-type]
    "condition-int-value": lambda: Condition("StringEquals", "k", 5),  # type: ignore[arg-type]
    "statement-actions-none": lambda: _statement(actions=None),
    "statement-conditions-none": lambda: _statement(conditions=None),
    "statement-effect-maybe": lambda: _statement(effect="Maybe"),
    "policy-statements-none": lambda: ContainerPolicy(statements=None),  # type: ignore[arg-type]
    "policy-statements-int": lambda: ContainerPolicy(statements=5),  # type: ignore[arg-type]
    "findings-known-str": lambda: POLICY.findings(known_secrets=["x"]),  # type: ignore[list-item]
    "findings-known-int": lambda: POLICY.findings(known_secrets=5),  # type: ignore[arg-type]
    "to-json-indent-list": lambda: POLICY.to_json(indent=[]),  # type: ignore[arg-type]
    "ingest-source-ips-int": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, source_ips=5),  # type: ignore[arg-type]
    "ingest-actions-int": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, actions=5),  # type: ignore[arg-type]
    "ingest-actions-none": lambda: BUILDER.allow_cloudfront_ingest(
        SECRET, actions=None),  # type: ignore[arg-type]
    "read-actions-int": lambda: BUILDER.allow_cloudfront_read(
        SECRET, actions=5),  # type: ignore[arg-type]
    "builder-statements-int": lambda: ContainerPolicyBuilder(
        region=REGION, account_id=ACCOUNT, container="live", statements=5),  # type: ignore[arg-type]
    "builder-statements-dicts": lambda: ContainerPolicyBuilder(
        region=REGION, account_id=ACCOUNT, container="live", statements=[{}]),  # type: ignore[list-item]
    "secret-rng-int": lambda: IngestSecret.generate(rng=lambda s: 5),  # type: ignore[arg-type,return-value]
    "secret-rng-not-callable": lambda: IngestSecret.generate(rng=5),  # type: ignore[arg-type]
    "bucket-builder-statements-int": lambda: BucketPolicyBuilder(
        bucket="live-bucket", account_id=ACCOUNT, statements=5),  # type: ignore[arg-type]
    "bucket-builder-playback-int": lambda: BucketPolicyBuilder(
        bucket="live-bucket", account_id=ACCOUNT, playback_distributions=5),  # type: ignore[arg-type]
    "bucket-ingest-actions-none": lambda: BUCKET_BUILDER.allow_cloudfront_ingest(
        "E2EXAMPLE", actions=None),  # type: ignore[arg-type]
    "bucket-ingest-actions-int": lambda: BUCKET_BUILDER.allow_cloudfront_ingest(
        "E2EXAMPLE", actions=5),  # type: ignore[arg-type]
    "bucket-findings-playback-int": lambda: BUCKET_POLICY.findings(
        playback_distributions=5),  # type: ignore[arg-type]
    "bucket-findings-playback-nested": lambda: BUCKET_POLICY.findings(
        playback_distributions=[[1]]),  # type: ignore[list-item]
    "bucket-to-json-indent-list": lambda: BUCKET_POLICY.to_json(indent=[]),  # type: ignore[arg-type]
    "spec-origin-gcs": lambda: ProvisioningSpec(
        public_key_pem=PUBLIC_PEM, origin="gcs", bucket_name="live-bucket"),  # type: ignore[arg-type]
    "spec-container-tags-int": lambda: _spec_with(container_tags=5),
    "spec-container-tags-values": lambda: _spec_with(container_tags={"team": 5}),
    "lifecycle-wildcards-int": lambda: live_lifecycle_policy(wildcards=5),  # type: ignore[arg-type]
    "cors-origins-int": lambda: live_cors_rules(5),  # type: ignore[arg-type]
    "cors-max-age-str": lambda: live_cors_rules(max_age_seconds="soon"),  # type: ignore[arg-type]
    "provisioner-endpoint-int": lambda: Provisioner(region=REGION, endpoint_url=5),  # type: ignore[arg-type]
    "provisioner-endpoint-map-int": lambda: Provisioner(
        region=REGION, endpoint_url={"mediastore": 5}),  # type: ignore[dict-item]
    "provisioner-endpoint-not-a-url": lambda: Provisioner(
        region=REGION, endpoint_url="notaurl").plan(_spec()),
    "provisioner-sleep-none": lambda: Provisioner(region=REGION, sleep=None),  # type: ignore[arg-type]
    "provisioner-poll-interval-str": lambda: Provisioner(
        region=REGION, poll_interval="5"),  # type: ignore[arg-type]
    "keys-password-int": lambda: generate_key_pair(
        "/nonexistent-dir/k.pem", password=5, algorithm="ecdsa"),  # type: ignore[arg-type]
    "keys-password-surrogate": lambda: generate_key_pair(
        "/nonexistent-dir/k.pem", password="\ud800", algorithm="ecdsa"),
    "keys-path-int": lambda: generate_key_pair(5, algorithm="ecdsa"),  # type: ignore[arg-type]
    "keys-public-path-int": lambda: generate_key_pair(
        None, 5.0, algorithm="ecdsa"),  # type: ignore[arg-type]
    "keys-path-nul": lambda: generate_key_pair("a\0b", algorithm="ecdsa"),
    "keys-path-surrogate": lambda: generate_key_pair("a\ud800b", algorithm="ecdsa"),
    "keys-load-password-surrogate": lambda: load_private_key(b"x", password="\ud800"),
}


@pytest.mark.parametrize("call", list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
def test_wrong_types_are_typed_errors(
    call: Callable[[], object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MediaStoreIngestError):
        call()
    assert list(tmp_path.iterdir()) == []


def test_a_single_str_is_one_item_not_its_characters() -> None:
    """``list("live/*")`` made six wildcards, one of them ``*`` (expire everything)."""
    rule = json.loads(live_lifecycle_policy(wildcards="live/*"))["rules"][0]
    assert rule["definition"]["path"] == [{"wildcard": "live/*"}]
    assert live_cors_rules("https://player.example")[0]["AllowedOrigins"] == [
        "https://player.example"
    ]
    arn = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E3PLAYBACK"
    policy = BUCKET_BUILDER.allow_cloudfront_ingest(arn).build()
    assert [f.code for f in policy.findings(playback_distributions=arn)] == ["playback-write"]


def test_valid_inputs_still_work(tmp_path: Path) -> None:
    """The new checks refuse only what was already broken."""
    policy = BUILDER.allow_cloudfront_ingest(
        SECRET, source_ips=["192.0.2.0/24"], actions=["mediastore:PutObject"]
    ).build()
    assert ContainerPolicy.from_json(policy.to_json()) == policy
    assert json.loads(policy.to_json(indent=2)) == json.loads(policy.to_json())
    assert policy.findings(known_secrets=[SECRET]) == ()
    assert policy.findings(known_secrets=iter([SECRET])) == ()
    assert ContainerPolicyBuilder(
        region=REGION, account_id=ACCOUNT, container="live", statements=list(policy.statements)
    ).build() == policy
    assert IngestSecret.generate(rng=lambda s: s[0]).value == "a" * 40
    bucket = BUCKET_BUILDER.allow_cloudfront_ingest("E2EXAMPLE", actions="s3:PutObject").build()
    assert bucket.findings(playback_distributions=("E3PLAYBACK",)) == ()
    assert bucket.findings(playback_distributions=None) == ()
    spec = _spec_with(container_tags=[("team", "video")])
    assert dict(spec.container_tags) == {"team": "video"}
    assert json.loads(live_lifecycle_policy(wildcards=("live/*", "vod/*")))["rules"]
    assert live_cors_rules(["https://player.example"])[0]["AllowedOrigins"] == [
        "https://player.example"
    ]
    Provisioner(region=REGION, endpoint_url="http://127.0.0.1:1")
    Provisioner(region=REGION, endpoint_url={"s3": "http://127.0.0.1:1"})
    # As before the audit: (service, URL) pairs, and None for "the default endpoint".
    Provisioner(region=REGION, endpoint_url=[("mediastore", "http://127.0.0.1:1")])
    Provisioner(region=REGION, endpoint_url={"mediastore": "http://127.0.0.1:1",
                                              "cloudfront": None})
    pair = generate_key_pair(tmp_path / "k.pem", str(tmp_path / "k.pub"), algorithm="ecdsa",
                             password="pw\u00e9")
    assert load_private_key(tmp_path / "k.pem", password="pw\u00e9").public_key() == \
        pair.public_key
