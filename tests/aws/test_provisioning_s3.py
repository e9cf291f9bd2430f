"""Provisioning an S3 origin behind Origin Access Control, end to end against moto's
server on 127.0.0.1 (real HTTP), plus the S3/OAC distribution configs and the CLI.

moto 5 implements every S3 and CloudFront operation used here (buckets, public access
block, ownership controls, lifecycle, bucket policy, origin access controls, public
keys, key groups, distributions). Two gaps in what it *returns* are patched in the
fixture, the way ``tests._support.moto_server`` gives MediaStore containers their AWS shapes:

* moto writes distribution ARNs as ``arn:aws:cloudfront:<account>:distribution/<id>``;
  AWS writes ``arn:aws:cloudfront::<account>:distribution/<id>`` (empty region). The
  bucket policy names the real ARN, so the patch gives moto's the AWS shape.
* moto's ``GetDistributionConfig`` drops an origin's ``S3OriginConfig`` and
  ``OriginAccessControlId`` (it stores only the legacy identity). The patch keeps
  them, so the second run can see that the distributions are unchanged.

No operation is answered inside the test on moto's behalf. Error translation is
checked with :class:`botocore.stub.Stubber`, and one test makes ``PutBucketPolicy``
fail through botocore's ``before-call`` hook to stand for S3's refusal.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import ParamValidator
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto.cloudfront import models as cloudfront_models

import mediastore_ingest.cli as cli_package
from mediastore_ingest.cli import main as cli_main
from mediastore_ingest.distribution import (
    ingest_distribution_config,
    origin_access_control_config,
    playback_distribution_config,
    s3_origin_domain,
)
from mediastore_ingest.errors import (
    DistributionConfigError,
    InvalidInputError,
    ProvisioningError,
)
from mediastore_ingest.iam.evaluate import Decision, RequestContext, evaluate_container_policy
from mediastore_ingest.iam.secret import IngestSecret
from mediastore_ingest.origins.s3 import BucketPolicy, s3_object_arn
from mediastore_ingest.provisioning import (
    IngestSetup,
    Plan,
    Provisioner,
    ProvisioningSpec,
    s3_expiry_rule,
)
from tests._support import REPO_ROOT
from tests._support.moto_server import MOTO_ACCOUNT_ID, moto_server

REGION = "us-west-2"
BUCKET = "live-origin"
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                  read_timeout=30)
DOCS = REPO_ROOT / "docs" / "migrate-to-s3.md"


def public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


KEY = public_key_pem()
CLOUDFRONT_MODEL = botocore.session.get_session().get_service_model("cloudfront")


def assert_valid(operation: str, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(
        params, CLOUDFRONT_MODEL.operation_model(operation).input_shape
    )
    assert not report.has_errors(), report.generate_report()


# --- distribution configs (pure) ------------------------------------------------------------


def test_s3_origin_domain() -> None:
    assert s3_origin_domain(BUCKET, REGION) == "live-origin.s3.us-west-2.amazonaws.com"
    assert s3_origin_domain(BUCKET, "us-east-1") == "live-origin.s3.us-east-1.amazonaws.com"
    assert s3_origin_domain(BUCKET, "cn-north-1") == \
        "live-origin.s3.cn-north-1.amazonaws.com.cn"
    with pytest.raises(DistributionConfigError, match="dot"):
        s3_origin_domain("live.origin", REGION)
    with pytest.raises(DistributionConfigError, match="bucket name"):
        s3_origin_domain("Live_Origin", REGION)
    with pytest.raises(DistributionConfigError, match="region"):
        s3_origin_domain(BUCKET, "Oregon")


def test_oac_config_is_valid() -> None:
    config = origin_access_control_config("live-origin-oac", description="ingest")
    assert config == {
        "Name": "live-origin-oac",
        "Description": "ingest",
        "SigningProtocol": "sigv4",
        "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3",
    }
    assert_valid("CreateOriginAccessControl", {"OriginAccessControlConfig": config})


@pytest.mark.parametrize("role", ["ingest", "playback"])
def test_s3_distribution_configs_are_valid(role: str) -> None:
    common: dict[str, Any] = {
        "origin_domain": s3_origin_domain(BUCKET, REGION),
        "secret": None,
        "caller_reference": f"ref-{role}",
        "origin_access_control_id": "E2OACEXAMPLE",
    }
    if role == "ingest":
        config = ingest_distribution_config(key_group_id="KG1", **common)
    else:
        config = playback_distribution_config(**common)
    assert_valid("CreateDistribution", {"DistributionConfig": config})
    [origin] = config["Origins"]["Items"]  # type: ignore[index]
    assert origin["DomainName"] == "live-origin.s3.us-west-2.amazonaws.com"
    assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
    assert origin["OriginAccessControlId"] == "E2OACEXAMPLE"
    assert "CustomOriginConfig" not in origin
    assert origin["CustomHeaders"] == {"Quantity": 0}  # no secret header with OAC
    methods = config["DefaultCacheBehavior"]["AllowedMethods"]["Items"]  # type: ignore[index]
    assert len(methods) == (7 if role == "ingest" else 2)


def test_s3_origin_without_oac_is_refused() -> None:
    with pytest.raises(DistributionConfigError, match="origin_access_control_id"):
        ingest_distribution_config(
            origin_domain=s3_origin_domain(BUCKET, REGION), secret=IngestSecret("x" * 24),
            key_group_id="KG1", caller_reference="r",
        )


def test_expiry_rule() -> None:
    assert s3_expiry_rule(3, prefix="live/") == {
        "ID": "mediastore-ingest-expire-live",
        "Filter": {"Prefix": "live/"},
        "Status": "Enabled",
        "Expiration": {"Days": 3},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    for bad in (0, -1, True, "3"):
        with pytest.raises(InvalidInputError):
            s3_expiry_rule(bad)  # type: ignore[arg-type]


# --- spec -----------------------------------------------------------------------------------


def s3_spec(**overrides: Any) -> ProvisioningSpec:
    kwargs: dict[str, Any] = {
        "origin": "s3",
        "bucket_name": BUCKET,
        "public_key_pem": KEY,
        "expire_after_days": 2,
        "expire_prefix": "live/",
    }
    kwargs.update(overrides)
    return ProvisioningSpec(**kwargs)


def test_spec_validation() -> None:
    spec = s3_spec()
    assert spec.name == BUCKET
    assert spec.caller_reference("ingest") == "mediastore-ingest:s3:live-origin:ingest"
    assert spec.effective_origin_access_control_name == "live-origin-oac"
    assert spec.effective_public_key_name == "live-origin-ingest-key"
    with pytest.raises(InvalidInputError, match="bucket_name"):
        s3_spec(bucket_name=None)
    with pytest.raises(InvalidInputError, match="S3 bucket name"):
        s3_spec(bucket_name="Bad_Bucket")
    secret = IngestSecret("IngestSecretForTests0123456789")
    with pytest.raises(InvalidInputError, match=r"ingest_secret.*MediaStore-only"):
        s3_spec(ingest_secret=secret)
    with pytest.raises(InvalidInputError, match="container_name"):
        s3_spec(container_name="live")
    with pytest.raises(InvalidInputError, match="lifecycle_policy"):
        s3_spec(lifecycle_policy='{"rules": []}')
    with pytest.raises(InvalidInputError, match="expire_after_days"):
        s3_spec(expire_after_days=0)
    with pytest.raises(InvalidInputError, match="origin_access_control_name"):
        s3_spec(origin_access_control_name="x" * 65)
    with pytest.raises(InvalidInputError, match="PUBLIC KEY"):
        s3_spec(public_key_pem="")
    with pytest.raises(ValueError, match="origin"):
        s3_spec(origin="gcs")
    # The MediaStore spec still needs its container and secret, and no S3 fields.
    with pytest.raises(InvalidInputError, match="container_name"):
        ProvisioningSpec(public_key_pem=KEY, ingest_secret=secret, playback=False)
    with pytest.raises(InvalidInputError, match="ingest_secret"):
        ProvisioningSpec(container_name="live", public_key_pem=KEY, playback=False)
    with pytest.raises(InvalidInputError, match="origin='s3' only"):
        ProvisioningSpec(container_name="live", public_key_pem=KEY, ingest_secret=secret,
                         playback=False, bucket_name=BUCKET)


# --- moto fixtures ----------------------------------------------------------------------------


def _aws_shaped_distribution(original: Any) -> Any:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.arn = re.sub(r":cloudfront:(\d{12}):", r":cloudfront::\1:", self.arn)

    return init


def _origin_keeping_oac(original: Any) -> Any:
    def init(self: Any, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.s3_origin_config = origin.get("S3OriginConfig")
        self.origin_access_control_id = origin.get("OriginAccessControlId")

    return init


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cloudfront_models.Distribution, "__init__",
                   _aws_shaped_distribution(cloudfront_models.Distribution.__init__))
        mp.setattr(cloudfront_models.Origin, "__init__",
                   _origin_keeping_oac(cloudfront_models.Origin.__init__))
        with moto_server() as url:
            yield url


class Probe:
    """Independent clients on the same moto server, to look at what really exists."""

    def __init__(self, session: botocore.session.Session, url: str) -> None:
        self.s3 = session.create_client("s3", region_name=REGION, endpoint_url=url,
                                        config=NO_RETRY)
        self.cf = session.create_client("cloudfront", region_name=REGION, endpoint_url=url,
                                        config=NO_RETRY)

    def counts(self) -> dict[str, int]:
        return {
            "buckets": len(self.s3.list_buckets()["Buckets"]),
            "oacs": self.cf.list_origin_access_controls()["OriginAccessControlList"]["Quantity"],
            "public keys": self.cf.list_public_keys()["PublicKeyList"]["Quantity"],
            "key groups": self.cf.list_key_groups()["KeyGroupList"]["Quantity"],
            "distributions": self.cf.list_distributions()["DistributionList"]["Quantity"],
        }

    def distribution(self, dist_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self.cf.get_distribution(Id=dist_id)["Distribution"]
        return out

    def policy(self) -> BucketPolicy:
        return BucketPolicy.from_json(self.s3.get_bucket_policy(Bucket=BUCKET)["Policy"])


@pytest.fixture
def probe(session: botocore.session.Session, aws: str) -> Probe:
    return Probe(session, aws)


def provisioner(session: botocore.session.Session, url: str, region: str = REGION,
                **kw: Any) -> Provisioner:
    kw.setdefault("sleep", lambda _: None)
    return Provisioner(session, region=region, endpoint_url=url, client_config=NO_RETRY, **kw)


def actions(plan: Plan) -> dict[str, str]:
    return {s.resource: s.action for s in plan.steps}


ORDER = [
    "s3 bucket", "public access block", "object ownership", "lifecycle rule",
    "origin access control", "public key", "key group", "ingest distribution",
    "playback distribution", "bucket policy",
]
EMPTY = {"buckets": 0, "oacs": 0, "public keys": 0, "key groups": 0, "distributions": 0}
ONE_SETUP = {"buckets": 1, "oacs": 1, "public keys": 1, "key groups": 1, "distributions": 2}


# --- end to end -------------------------------------------------------------------------------


def test_apply_twice_is_idempotent(session: botocore.session.Session, aws: str,
                                   probe: Probe) -> None:
    created: list[str] = []
    session.register("creating-client-class", lambda **kw: created.append(kw["event_name"]))
    p = provisioner(session, aws)
    wanted = s3_spec()

    first = p.plan(wanted)
    assert list(actions(first)) == ORDER
    assert set(actions(first).values()) == {"create"}
    assert str(first).startswith("Plan for S3 bucket 'live-origin' in us-west-2:")

    applied, setup = p.apply_with_plan(wanted)
    assert set(actions(applied).values()) == {"create"}
    assert probe.counts() == ONE_SETUP
    # An S3 setup never needs (or creates) a MediaStore client.
    assert not [name for name in created if name.endswith(".mediastore")]

    # The setup document.
    assert setup.origin == "s3"
    assert setup.bucket_name == BUCKET
    assert setup.container_arn == "arn:aws:s3:::live-origin"
    assert setup.container_endpoint == "https://live-origin.s3.us-west-2.amazonaws.com"
    assert setup.account_id == MOTO_ACCOUNT_ID
    assert IngestSetup.from_json(setup.to_json()) == setup

    # The bucket: region, all four public access blocks, ownership, lifecycle.
    s3 = probe.s3
    assert s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == REGION
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["ID"] == "mediastore-ingest-expire-live"
    assert rule["Expiration"] == {"Days": 2}
    assert rule["Filter"] == {"Prefix": "live/"}

    # The OAC, and both distributions in front of the bucket, signing with it.
    oac = probe.cf.get_origin_access_control(Id=setup.origin_access_control_id)
    config = oac["OriginAccessControl"]["OriginAccessControlConfig"]
    assert config["Name"] == "live-origin-oac"
    assert (config["SigningBehavior"], config["SigningProtocol"],
            config["OriginAccessControlOriginType"]) == ("always", "sigv4", "s3")
    ingest = probe.distribution(setup.ingest_distribution_id)
    playback = probe.distribution(setup.playback_distribution_id or "")
    for dist in (ingest, playback):
        [origin] = dist["DistributionConfig"]["Origins"]["Items"]
        assert origin["DomainName"] == "live-origin.s3.us-west-2.amazonaws.com"
        assert origin["OriginAccessControlId"] == setup.origin_access_control_id
        assert origin["S3OriginConfig"]["OriginAccessIdentity"] == ""
        assert origin["CustomHeaders"]["Quantity"] == 0
    assert ingest["DistributionConfig"]["CallerReference"] == \
        "mediastore-ingest:s3:live-origin:ingest"
    assert ingest["DistributionConfig"]["DefaultCacheBehavior"]["TrustedKeyGroups"]["Items"] \
        == [setup.key_group_id]

    # The bucket policy names the real ARNs: only ingest writes, only playback reads.
    policy = probe.policy()
    assert [s.sid for s in policy.statements] == [
        "CloudFrontIngest", "CloudFrontPlayback", "DenyInsecureTransport"]
    assert policy.findings(playback_distributions=[playback["ARN"]]) == ()
    for arn, action, expected in (
        (ingest["ARN"], "s3:PutObject", Decision.ALLOW),
        (ingest["ARN"], "s3:DeleteObject", Decision.ALLOW),
        (playback["ARN"], "s3:GetObject", Decision.ALLOW),
        (playback["ARN"], "s3:PutObject", Decision.IMPLICIT_DENY),
    ):
        ctx = RequestContext(action=action, resource=s3_object_arn(BUCKET, "live/1.ts"),
                             principal="cloudfront.amazonaws.com", source_arn=arn)
        assert evaluate_container_policy(policy, ctx).decision is expected

    # Second run: every step is reuse/unchanged and nothing new appears.
    second = p.plan(wanted)
    assert second.is_noop, str(second)
    assert list(actions(second)) == ORDER
    assert set(actions(second).values()) <= {"reuse", "unchanged"}
    again_plan, again = p.apply_with_plan(wanted)
    assert again == setup
    assert again_plan.is_noop
    assert probe.counts() == ONE_SETUP

    # A fresh provisioner (a new process, say) finds the same resources.
    assert provisioner(session, aws).apply(wanted) == setup


def test_dry_run_makes_only_read_calls(session: botocore.session.Session, aws: str,
                                       probe: Probe) -> None:
    called: list[str] = []
    session.register("before-call.*.*", lambda model, **_: called.append(model.name))
    plan = provisioner(session, aws).plan(s3_spec())
    assert set(actions(plan).values()) == {"create"}
    assert called, "the plan made no AWS call at all"
    assert all(name.startswith(("Head", "Get", "List")) for name in called), called
    assert probe.counts() == EMPTY


def test_reuses_a_bucket_and_keeps_foreign_policy_statements_and_rules(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    probe.s3.create_bucket(Bucket=BUCKET,
                           CreateBucketConfiguration={"LocationConstraint": REGION})
    foreign = {"Sid": "AnalyticsRead", "Effect": "Allow",
               "Principal": {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/analytics"},
               "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/reports/*"}
    probe.s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [foreign]}))
    other_rule = {"ID": "archive", "Filter": {"Prefix": "archive/"}, "Status": "Enabled",
                  "Expiration": {"Days": 365}}
    probe.s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [other_rule]})
    probe.s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": True})

    p = provisioner(session, aws)
    plan = p.plan(s3_spec())
    assert actions(plan)["s3 bucket"] == "reuse"
    assert actions(plan)["public access block"] == "update"
    assert actions(plan)["lifecycle rule"] == "update"
    assert actions(plan)["bucket policy"] == "update"

    applied, _ = p.apply_with_plan(s3_spec())
    step = next(s for s in applied.steps if s.resource == "bucket policy")
    assert step.detail == "1 other statement(s) kept"
    policy = probe.policy()
    assert [s.sid for s in policy.statements] == [
        "AnalyticsRead", "CloudFrontIngest", "CloudFrontPlayback", "DenyInsecureTransport"]
    ids = [r["ID"] for r in probe.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]]
    assert ids == ["archive", "mediastore-ingest-expire-live"]
    config = probe.s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert all(config.values())
    assert p.plan(s3_spec()).is_noop


def test_changed_lifecycle_and_no_playback(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    p = provisioner(session, aws)
    setup = p.apply(s3_spec(playback=False, deny_insecure_transport=False))
    assert setup.playback_distribution_id is None
    assert probe.counts()["distributions"] == 1
    assert [s.sid for s in probe.policy().statements] == ["CloudFrontIngest"]
    plan = p.plan(s3_spec(playback=False, deny_insecure_transport=False, expire_after_days=7))
    assert actions(plan)["lifecycle rule"] == "update"
    assert len(plan.changes) == 1
    p.apply(s3_spec(playback=False, deny_insecure_transport=False, expire_after_days=7))
    [rule] = probe.s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert rule["Expiration"] == {"Days": 7}


def test_us_east_1_sends_no_location_constraint(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    sent: list[dict[str, Any]] = []
    session.register("before-parameter-build.s3.CreateBucket",
                     lambda params, **_: sent.append(dict(params)))
    setup = provisioner(session, aws, region="us-east-1").apply(s3_spec(playback=False))
    assert sent == [{"Bucket": BUCKET}]
    assert probe.s3.get_bucket_location(Bucket=BUCKET)["LocationConstraint"] is None
    assert setup.container_endpoint == "https://live-origin.s3.us-east-1.amazonaws.com"
    # And the second run recognises us-east-1's empty constraint as its own region.
    assert provisioner(session, aws, region="us-east-1").plan(s3_spec(playback=False)).is_noop


def test_bucket_in_another_region_is_an_error(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    eu = session.create_client("s3", region_name="eu-west-1", endpoint_url=aws,
                               config=NO_RETRY)
    eu.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ProvisioningError, match="eu-west-1") as info:
        provisioner(session, aws).plan(s3_spec())
    assert info.value.code == "BucketRegionMismatch"


def test_changed_oac_is_updated(session: botocore.session.Session, aws: str,
                                probe: Probe) -> None:
    probe.cf.create_origin_access_control(OriginAccessControlConfig={
        "Name": "live-origin-oac", "SigningProtocol": "sigv4", "SigningBehavior": "never",
        "OriginAccessControlOriginType": "s3"})
    p = provisioner(session, aws)
    plan = p.plan(s3_spec(playback=False))
    step = next(s for s in plan.steps if s.resource == "origin access control")
    assert step.action == "update"
    assert "SigningBehavior" in step.detail
    setup = p.apply(s3_spec(playback=False))
    config = probe.cf.get_origin_access_control(Id=setup.origin_access_control_id)[
        "OriginAccessControl"]["OriginAccessControlConfig"]
    assert config["SigningBehavior"] == "always"
    assert probe.counts()["oacs"] == 1


# --- errors -------------------------------------------------------------------------------


def stubbed(session: botocore.session.Session, service: str) -> tuple[Any, Stubber]:
    client = session.create_client(service, region_name=REGION, config=NO_RETRY)
    return client, Stubber(client)


def test_client_errors_are_translated(session: botocore.session.Session) -> None:
    s3, stub = stubbed(session, "s3")
    cf, _ = stubbed(session, "cloudfront")
    stub.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
    p = Provisioner(s3_client=s3, cloudfront_client=cf)
    assert p.region == REGION  # taken from the S3 client
    with stub, pytest.raises(ProvisioningError) as info:
        p.plan(s3_spec())
    assert (info.value.operation, info.value.code) == ("HeadBucket", "403")
    assert "another account" in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)


def test_put_bucket_policy_refused_is_translated(
    session: botocore.session.Session, aws: str
) -> None:
    s3 = session.create_client("s3", region_name=REGION, endpoint_url=aws, config=NO_RETRY)
    cf = session.create_client("cloudfront", region_name=REGION, endpoint_url=aws,
                               config=NO_RETRY)
    # Real S3 answers AccessDenied when, e.g., BlockPublicPolicy meets a public policy;
    # moto does not check, so a before-call hook makes just this one call fail.
    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "denied"}},
                          "PutBucketPolicy")

    s3.meta.events.register("before-call.s3.PutBucketPolicy", refuse)
    p = Provisioner(s3_client=s3, cloudfront_client=cf, sleep=lambda _: None)
    with pytest.raises(ProvisioningError) as info:
        p.apply(s3_spec(playback=False))
    assert (info.value.operation, info.value.code) == ("PutBucketPolicy", "AccessDenied")


def test_unparseable_existing_policy_is_not_overwritten(
    session: botocore.session.Session, aws: str, probe: Probe
) -> None:
    probe.s3.create_bucket(Bucket=BUCKET,
                           CreateBucketConfiguration={"LocationConstraint": REGION})
    odd = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*", "Unknown": 1}]}
    probe.s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(odd))
    with pytest.raises(ProvisioningError) as info:
        provisioner(session, aws).apply(s3_spec(playback=False))
    assert info.value.code == "UnparseableBucketPolicy"
    assert json.loads(probe.s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == odd


# --- CLI ----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(aws: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(cli_package, "_COMMAND_MODULES", ("._provision",))
    pem = tmp_path / "public.pem"
    pem.write_text(KEY)
    return pem


def test_cli_provision_s3_dry_run_apply_noop(
    cli_env: Path, aws: str, probe: Probe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "setup.json"
    base = ["provision", "--origin", "s3", "--bucket", BUCKET, "--region", REGION,
            "--public-key", str(cli_env), "--expire-days", "1", "--endpoint-url", aws]
    assert cli_main([*base, "--dry-run", "--out", str(out)]) == 0
    assert "Plan for S3 bucket" in capsys.readouterr().out
    assert not out.exists()
    assert probe.counts() == EMPTY

    assert cli_main([*base, "--out", str(out)]) == 0
    capsys.readouterr()
    setup = IngestSetup.from_json(out.read_text())
    assert setup.origin == "s3"
    assert setup.ingest_secret_ref is None
    assert probe.counts() == ONE_SETUP

    assert cli_main([*base, "--dry-run"]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_cli_provision_s3_refuses_mediastore_flags(
    cli_env: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for extra in (["--container", "live"], ["--secret-env", "X"], []):
        argv = ["provision", "--origin", "s3", "--region", REGION,
                "--public-key", str(cli_env), "--endpoint-url", aws, *extra]
        if extra:
            argv += ["--bucket", BUCKET]
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
    assert cli_main(["provision", "--region", REGION, "--container", "live",
                     "--public-key", str(cli_env), "--secret-env", "X",
                     "--bucket", BUCKET]) == 2
    assert "--origin s3" in capsys.readouterr().err


def test_cli_distribution_config_with_oac(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDIASTORE_INGEST_SECRET", raising=False)
    assert cli_main(["distribution-config", "--origin-domain",
                     s3_origin_domain(BUCKET, REGION), "--key-group-id", "KG1",
                     "--origin-access-control-id", "E2OACEXAMPLE"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert_valid("CreateDistribution", {"DistributionConfig": config})
    assert config["Origins"]["Items"][0]["OriginAccessControlId"] == "E2OACEXAMPLE"


def test_the_migration_guide_commands_run(
    cli_env: Path, aws: str, probe: Probe, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    """The ``sh`` blocks of docs/migrate-to-s3.md that talk to AWS, run against moto."""
    monkeypatch.setattr(cli_package, "_COMMAND_MODULES", ("._provision", "._bucket_policy"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "public.pem").write_text(KEY)
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    commands = [
        line.strip()
        for block in blocks
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip().startswith("mediastore-ingest provision")
    ]
    assert commands, "the guide shows no provision command"
    for command in commands:
        argv = shlex.split(command)[1:]
        if "--origin" in argv:
            argv += ["--endpoint-url", aws]
            assert cli_main(argv) == 0, command
    capsys.readouterr()
    assert probe.counts() == ONE_SETUP
